// What each FUSE op does, apart from libfuse: lookup, getattr and readdir
// answer from the fixed tree; open renders the file for the caller into a
// handle (direct_io: every reader gets its own content, the page cache never
// serves it); read returns a slice of that content (rendered again when a
// kept handle is read from offset 0 once more); release frees it.
//
// Each do_* returns an errno or a value and sends nothing; fs.cpp's op_*
// callback runs it under guarded() and sends the one reply. A do_* may throw
// (rendering reads the reader's cgroups); guarded() is where that becomes an
// errno. No libfuse header is needed here, so the ops are tested on fixture
// trees without a kernel mount.
#pragma once

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <time.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "fsd/fuse/fair_gate.h"
#include "fsd/fuse/handles.h"
#include "fsd/fuse/tree.h"
#include "fsd/view/view.h"

namespace vproc::fuse {

struct FsContext {
  // Open files hold their rendered content; past max_handles (--max-open,
  // default 65536), open fails with ENFILE so that no reader can make vprocd's
  // memory grow without bound; a tenant (the reader's cgroups) past its share
  // (HandleQuota::for_max_open) fails with EMFILE first.
  static constexpr size_t kDefaultMaxHandles = 65536;

  view::ViewService* views;
  Tree tree;
  double timeout;  // entry and attribute cache of directories, seconds
  struct timespec started;
  size_t max_handles = kDefaultMaxHandles;
  HandleTable handles;
  // Renderings run at most gate.per_tenant() at a time per tenant (one per
  // 8 workers, set by main; fsd/fuse/fair_gate.h).
  FairGate gate{1};
  // Bumped by every LOOKUP and OPEN: a vprocd that was taken over drains
  // until nothing has looked at it for a while.
  mutable std::atomic<uint64_t> activity{0};
};

// An errno an op answers with.
struct Errno {
  int code;
};

// An op's answer: a value, or (err() != 0) an errno and no value. Implicit
// from either, so a do_* says `return Errno{ENOENT};` or `return entry;`.
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}
  Result(Errno e) : err_(e.code) {}
  int err() const { return err_; }
  const T& operator*() const { return value_; }
  const T* operator->() const { return &value_; }

 private:
  int err_ = 0;
  T value_{};
};

// Attributes and how long the kernel may cache them.
struct Attr {
  struct stat st;
  double timeout;
};

struct Entry {
  unsigned long ino;
  Attr attr;
  double entry_timeout;  // how long the kernel may cache the name
};

struct DirEntry {
  std::string name;
  unsigned long ino;
  bool dir;
  off_t next;  // the offset that continues after this entry
};

// Part of an open file's content; the handle's data stays alive while held.
struct Slice {
  std::shared_ptr<const std::string> data;
  size_t offset = 0;
  size_t length = 0;
  const char* bytes() const { return data ? data->data() + offset : nullptr; }
  std::string_view view() const { return {bytes(), length}; }
};

Result<Entry> do_lookup(const FsContext& c, unsigned long parent, std::string_view name);
Result<Attr> do_getattr(const FsContext& c, unsigned long ino);
// The entries of directory `ino` from offset `off` on ("." and ".." first).
Result<std::vector<DirEntry>> do_readdir(const FsContext& c, unsigned long ino, off_t off);
// 0 when `ino` is a directory.
int do_opendir(const FsContext& c, unsigned long ino);
// Renders the file as process `pid` sees it into a new handle; its id.
// Read-only opens only; ENFILE past c.max_handles, EMFILE past the reader's
// tenant's share (checked before rendering). Throws what rendering throws.
Result<uint64_t> do_open(FsContext& c, unsigned long ino, int flags, pid_t pid);
// The same for a reader resolved already (c.views->reader()).
Result<uint64_t> do_open(FsContext& c, unsigned long ino, int flags, const view::Reader& who);
// At most `size` bytes of handle `fh` from `off`; empty past the end or for an
// unknown handle. A read at offset 0 of a handle that was read before renders
// the file again for `pid` (the reader of this request); reads at other
// offsets continue the same rendering, so a file read in pieces stays whole.
Result<Slice> do_read(FsContext& c, uint64_t fh, size_t size, off_t off, pid_t pid);
// do_read's two halves, which fs.cpp calls itself (it renders through the
// gate): the bytes of `data` a read of `size` at `off` returns, and the read
// at offset 0 of a handle read before: renders `kind` for `who` again.
Slice slice_of(std::shared_ptr<const std::string> data, size_t size, off_t off);
Result<Slice> do_read_again(FsContext& c, uint64_t fh, FileKind kind, const view::Reader& who,
                            size_t size);
int do_release(FsContext& c, uint64_t fh);
struct statvfs do_statfs();

// Called inside a catch block: the errno an op answers the exception in flight
// with (ENOENT and ESRCH pass through, out of memory is ENOMEM, anything else
// EIO), logged rate-limited under the op's name.
int errno_for_exception(const char* op);

// Runs an op's do_* (body) and returns its answer; an exception becomes an
// errno. The one place FUSE ops catch: no exception crosses a libfuse callback.
template <typename F>
auto guarded(const char* op, F body) -> decltype(body()) {
  using R = decltype(body());
  int err = 0;
  try {
    return body();
  } catch (...) {
    err = errno_for_exception(op);
  }
  if constexpr (std::is_same_v<R, int>) {
    return err;
  } else {
    return R(Errno{err});
  }
}

}  // namespace vproc::fuse
