// Who is reading: the FUSE request's pid (a host pid) -> its cgroups and the
// init of its pid namespace (the "container" whose age uptime shows).
//
// Reads <proc>/<pid>/cgroup, <proc>/<pid>/ns/pid and <proc>/<init>/stat.
// The init is found with one ioctl(NS_GET_TGID_FROM_PIDNS) where the kernel
// has it (6.7+), else by walking parent pids while they share the namespace.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "lib/base/unique_fd.h"
#include "lib/cgroup/cgroup_reader.h"

namespace vproc::view {

struct Reader {
  pid_t pid = 0;
  std::shared_ptr<const cgroup::ReaderCgroups> cgroups;  // never null
  bool host_pidns = true;
  pid_t init_pid = 1;
  uint64_t init_start = 0;          // ticks after boot
  std::shared_ptr<UniqueFd> pidns;  // the reader's pid namespace, when not the host's
  // Identifies the container for counter state: a new init is a new container.
  std::string container_key() const;
};

class ReaderResolver {
 public:
  // proc_root: the host's /proc (or a fixture tree).
  explicit ReaderResolver(int proc_root);
  // Throws SysError (ESRCH) when the pid has gone.
  Reader resolve(pid_t pid, const cgroup::Layout& layout) const;
  // A host pid translated into the reader's pid namespace; 0 when not visible.
  pid_t pid_in(const Reader& reader, pid_t host_pid) const;
  // Readers remembered now (at most kMaxKnown).
  static constexpr size_t kMaxKnown = 4096;
  // A reader checked this recently is taken as it was (the same process, in
  // the same cgroups) without reading /proc/<pid>/cgroup again: a process
  // that reads flat out costs that read once a millisecond, not per open. No
  // pid is reused within it (pids go round pid_max first).
  static constexpr std::chrono::microseconds kRecheckAfter{1000};
  size_t known() const;

 private:
  pid_t find_init(pid_t pid, int pidns_fd, ino_t pidns_ino) const;
  // What is remembered of `pid` into r; the fd of its /proc/<pid>/cgroup, or
  // null when it is not known. done: r is whole (checked within kRecheckAfter).
  std::shared_ptr<UniqueFd> remembered(pid_t pid, Reader& r,
                                       std::chrono::steady_clock::time_point now, bool& done) const;
  // Reads the remembered fd again into r.cgroups; false when the process is
  // gone (and then forgets it).
  bool recheck(pid_t pid, const std::shared_ptr<UniqueFd>& fd, const cgroup::Layout& layout,
               std::chrono::steady_clock::time_point now, Reader& r) const;
  int proc_;
  ino_t own_pidns_ = 0;

  // Readers seen before, by pid: an open /proc/<pid>/cgroup (a pread both
  // refreshes the cgroup and proves the same process still owns the pid: the
  // fd of an exited process fails with ESRCH, even when the pid is reused)
  // and what never changes for a process, its pid namespace's init.
  struct Known {
    std::shared_ptr<UniqueFd> cgroup;
    // The last /proc/<pid>/cgroup text and what it resolved to: the same text
    // resolves the same way, so it is parsed again only when it changes.
    std::string text;
    std::shared_ptr<const cgroup::ReaderCgroups> cgroups;
    bool host_pidns = true;
    pid_t init_pid = 1;
    uint64_t init_start = 0;
    std::shared_ptr<UniqueFd> pidns;
    uint64_t last_used = 0;
    std::chrono::steady_clock::time_point checked;  // the last read of `cgroup`
  };
  // Past kMaxKnown, the least recently read eighth is forgotten (a reader
  // that churns processes pushes out only those read least recently).
  void forget_oldest() const;
  mutable std::mutex mu_;
  mutable std::unordered_map<pid_t, Known> known_;
  mutable uint64_t clock_ = 0;
};

}  // namespace vproc::view
