// The per-container view: a tree of its own for every container, on a FUSE
// connection of its own, whose files the kernel's page cache serves.
//
//   ROOT/<pid>-<start>/proc/meminfo ... ROOT/<pid>-<start>/sys/devices/system/cpu/online
//
// <pid> is the container's init in vprocd's pid namespace and <start> its
// start time (field 22 of /proc/<pid>/stat): a directory is there only while
// that process lives, so a reused pid never reaches another container's
// files. Each file is rendered for the init (the cgroups of the container's
// init, as every reader in it would get from the per-reader files) and kept:
// the connection answers OPEN with ENOSYS (no-open), so an open and a read
// cost no request while the attributes are valid. Attributes are valid for
// max_age; a read after that makes the kernel ask GETATTR (auto_inval_data),
// which renders the file again when its rendering is older than max_age and
// reports a new mtime and size, so the kernel drops its pages and reads the
// new rendering whole. An idle container costs nothing; a busy one costs at
// most one rendering per file per max_age.
//
// Inode numbers: 1 is the root; container n (numbered from 1, never reused)
// owns n * kStride + i for the i-th node of the per-reader tree's layout
// (i = 1 is its directory). A container found gone (at a refresh, by the
// sweep every 10 s of lookups, or by a listing of the root) is forgotten;
// its inodes answer ENOENT.
//
// As in ops.h, nothing here needs libfuse: cview_fs.cpp sends the replies.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "fsd/fuse/ops.h"
#include "fsd/fuse/tree.h"
#include "fsd/view/view.h"

namespace vproc::fuse {

class ContainerView {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr unsigned long kStride = 64;  // more than the tree's nodes
  static constexpr std::chrono::milliseconds kDefaultMaxAge{100};

  // Renders through `views`; checks identities through `proc` (a procfs
  // root fd, kept by the caller).
  ContainerView(view::ViewService* views, bool with_pressure, int proc,
                std::chrono::milliseconds max_age = kDefaultMaxAge);

  // "<pid>-<start>" -> {pid, start}; nullopt for any other name.
  static std::optional<std::pair<pid_t, std::uint64_t>> parse_name(std::string_view name);
  // The directory name of a container whose init is pid, started at start.
  static std::string name_of(pid_t pid, std::uint64_t start);

  Result<Entry> lookup(unsigned long parent, std::string_view name);
  Result<Attr> getattr(unsigned long ino);
  Result<std::vector<DirEntry>> readdir(unsigned long ino, off_t off);
  // The file's current rendering from `off` (rendered first if it has none).
  Result<Slice> read(unsigned long ino, size_t size, off_t off);
  // ENOENT for an unknown inode, EISDIR/ENOTDIR as the node is.
  int check(unsigned long ino, bool want_dir);

  size_t containers() const;
  std::chrono::milliseconds max_age() const { return max_age_; }
  // Forgets containers whose init is gone and drops renderings not refreshed
  // for 10 s (the kernel keeps its pages; a read after max_age renders anew).
  void sweep(Clock::time_point now);

 private:
  struct Rendering {
    std::shared_ptr<const std::string> text;
    Clock::time_point at;
    struct timespec mtime {};
  };
  struct Container {
    pid_t pid = 0;
    std::uint64_t start = 0;
    unsigned long slot = 0;
    std::mutex mu;
    std::map<FileKind, Rendering> files;
  };
  using Ptr = std::shared_ptr<Container>;

  // The container and tree node of an inode; nullptr when unknown.
  std::pair<Ptr, const Node*> find(unsigned long ino) const;
  Ptr find_or_add(pid_t pid, std::uint64_t start);
  bool alive(const Container& c) const;
  void forget(const Container& c);
  // The rendering of `kind`: the kept one when younger than max_age (or
  // whatever its age when !refresh and there is one), else a new one.
  // Throws ENOENT (SysError) when the init is gone.
  Rendering rendering(Container& c, FileKind kind, bool refresh);
  Attr attr_of(const Container& c, const Node& n, const Rendering* r) const;
  void maybe_sweep();

  view::ViewService* views_;
  Tree shape_;
  int proc_;
  std::chrono::milliseconds max_age_;
  struct timespec started_ {};
  mutable std::mutex mu_;  // the two maps and next_slot_
  std::map<std::pair<pid_t, std::uint64_t>, Ptr> by_id_;
  std::map<unsigned long, Ptr> by_slot_;
  unsigned long next_slot_ = 1;
  Clock::time_point last_sweep_{};
};

}  // namespace vproc::fuse
