// The glue between a FUSE open and the pure renderers: identify the reader,
// read its cgroups and the host's /proc files, keep the per-container counter
// state, render. Thread-safe: called from every FUSE worker thread.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "fsd/view/counter_table.h"
#include "fsd/view/loadavg.h"
#include "fsd/view/reader.h"
#include "lib/base/unique_fd.h"
#include "lib/cgroup/cgroup_reader.h"
#include "lib/core/readings.h"
#include "lib/files/files.h"

namespace vproc::view {

using vproc::FileKind;

struct Options {
  core::CpuView cpu_view = core::CpuView::kQuota;
  bool loadavg = true;
  std::chrono::milliseconds loadavg_interval{5000};
  // The hook's registry (/run/vproc): the loadavg sampler follows every
  // registered container from its registration on, not from its first read.
  // Empty: only cgroups that were read are followed.
  std::string registry_dir;
  // Readers in the same cgroups (and container) that open a file within this
  // long of each other get one rendering: a process reading flat out costs a
  // rendering per window, not per open. Only on the kernel's own /proc and
  // cgroup tree (a fixture tree is changed by tests between reads). 0: a
  // rendering per open.
  std::chrono::microseconds share_for{1000};
};

class ViewService {
 public:
  ViewService(UniqueFd cgroup_root, UniqueFd proc_root, Options options);
  // Starts the loadavg sampler thread (if loadavg is on), following the
  // registered containers first. Without it, averages move only at each
  // cgroup's first read.
  void start_sampler();
  // Renders `kind` as the process `pid` should see it. Throws SysError.
  std::string render(FileKind kind, pid_t pid);
  // Who process `pid` is (its cgroups, its container), for render() and for
  // fair shares (reader.cgroups->tenant). Throws SysError (ESRCH: gone).
  Reader reader(pid_t pid) const { return readers_.resolve(pid, cgroups_.layout()); }
  // Renders `kind` for a reader resolved by reader(), or hands out the
  // rendering made for its cgroups less than share_for ago. Throws SysError.
  std::string render(FileKind kind, const Reader& r);
  bool host_has_pressure() const;
  // Renderings are shared within options.share_for (kernel trees only).
  bool shares() const { return share_; }
  // The st_size to report: the host's file size plus a page. readers that
  // copy with sendfile (busybox cat) stop at st_size, so it must not be below
  // what any reader's rendering holds; read() ignores it.
  size_t size_hint(FileKind kind) const;
  const cgroup::Layout& layout() const { return cgroups_.layout(); }

 private:
  std::string host(const char* file) const;
  // Sampler thread: keeps the cpu cgroup of every registered container's init
  // followed, and forgets those whose record is gone.
  void follow_registered();
  uint64_t age_ticks(const Reader& r) const;
  std::string render_now(FileKind kind, const Reader& r);

  // The last rendering of a kind for some cgroups and container. One thread
  // at a time renders it (under mu): readers that come meanwhile wait and
  // take that rendering, and a rendering never replaces a newer one, so
  // counters shown through it never go backwards.
  struct Shared {
    std::mutex mu;
    std::string text;
    std::chrono::steady_clock::time_point at;  // when `text` was made; epoch: none yet
  };
  static constexpr size_t kMaxShared = 1024;
  // The slot of `key`, made when absent; null past kMaxShared slots (then
  // render without sharing).
  std::shared_ptr<Shared> shared_slot(const std::string& key,
                                      std::chrono::steady_clock::time_point now);
  bool share_ = false;
  std::mutex shared_mu_;
  std::unordered_map<std::string, std::shared_ptr<Shared>> shared_;
  std::chrono::steady_clock::time_point swept_;

  UniqueFd proc_;
  // proc_ is the kernel's procfs (not a copied test tree): the uptime can come
  // from CLOCK_BOOTTIME, the clock /proc/uptime prints, without a read.
  bool live_proc_ = false;
  mutable FdCache proc_files_;
  cgroup::CgroupReader cgroups_;
  ReaderResolver readers_;
  Options options_;
  std::unique_ptr<LoadTracker> load_;
  struct Followed {
    ino_t record;  // the inode of its registry record when it was read
    cgroup::Place place;
  };
  std::map<std::string, Followed> followed_;  // registry id -> (sampler thread only)
  // The registry's containers/ directory when followed_ was last made from it
  // (sampler thread only): while it is unchanged, no record is looked at.
  struct stat registry_dir_ {};
  // Whether the directory is as it was when followed_ was made from it.
  bool registry_unchanged(const struct stat& now_st) const;

  CounterTable states_;
};

}  // namespace vproc::view
