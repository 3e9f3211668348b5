// Per-cgroup load averages, computed the way the kernel computes the host's:
// every 5 s, count the active tasks of the cgroup and its descendants and fold
// the count into 1/5/15-minute exponential averages.
//
// Only cgroups whose loadavg was read in the last 10 minutes, and those of
// registered containers (follow()), are sampled, so the cost grows with those
// containers, not with the host. A v1 cgroup on the
// live cgroupfs is counted by the kernel (taskstats netlink, see
// lib/cgroup/cgroupstats.h): running + uninterruptible + waiting for I/O,
// through an fd of its directory kept open while it is tracked, plus one query
// per descendant directory (st_nlink > 2 says there are some). A leaf costs
// three syscalls (fstat, sendto, recvfrom). Everything else (v2, a copied tree
// given as --cgroup-root, no TASKSTATS family, an error) reads <cgroup>/tasks
// (v1) or cgroup.threads (v2) of the cgroup and its descendants, then
// <proc>/<tid>/stat, counting R and D. The two differ in one case: a killable
// sleep that is not an I/O wait (D in /proc, counted by the host's loadavg) is
// missed by the kernel's count.
//
// count(), for the running/total fields of a render, always reads the tasks
// files: it needs the tids.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "lib/base/unique_fd.h"
#include "lib/cgroup/cgroup_reader.h"
#include "lib/cgroup/cgroupstats.h"
#include "lib/core/readings.h"

namespace vproc::view {

class LoadTracker {
 public:
  static constexpr size_t kMaxTracked = 4096;
  static constexpr size_t kMaxTasks = 65536;

  LoadTracker(const cgroup::CgroupReader& cgroups, int proc_root,
              std::chrono::milliseconds interval = std::chrono::seconds(5));
  ~LoadTracker();
  LoadTracker(const LoadTracker&) = delete;
  LoadTracker& operator=(const LoadTracker&) = delete;

  // Called by the sampler thread before each sample (set before start()).
  void set_before_sample(std::function<void()> f) { before_sample_ = std::move(f); }
  void start();
  // The cgroup's averages; starts tracking it if new (with one sample now).
  std::array<uint64_t, 3> averages(const cgroup::Place& place);
  // Keeps the cgroup tracked as if it were read now; a new one starts at 0
  // and is counted from the next sample on (a registered container, followed
  // before anyone reads its loadavg).
  void follow(const cgroup::Place& place);
  // Counts of the cgroup's tasks now: running (R) and all; the tids seen.
  struct Count {
    unsigned active = 0, running = 0, total = 0;
    std::vector<pid_t> tids;
  };
  Count count(const cgroup::Place& place) const;

 private:
  // How one tracked cgroup is counted. Made before the entry is inserted, then
  // used by the sampler thread only.
  struct Probe {
    bool netlink = false;  // through stats_ and dir; else from the tasks files
    UniqueFd dir;          // the cgroup's directory (reopened after ENOENT)
  };
  struct Entry {
    cgroup::Place place;
    std::array<uint64_t, 3> avg{};
    std::chrono::steady_clock::time_point last_read;
    std::shared_ptr<Probe> probe;
  };
  // averages() and follow(): marks the cgroup read now, adding it (sampled
  // now or not) when new and there is room.
  std::array<uint64_t, 3> track(const cgroup::Place& place, bool sample_now);
  void loop();
  void sample_all();
  std::shared_ptr<Probe> make_probe(const cgroup::Place& place) const;
  // Active tasks of the cgroup and its descendants now.
  unsigned active(const cgroup::Place& place, Probe& probe) const;
  // The same through netlink, from the cgroup directory dirfd; 0 or an errno.
  int active_netlink(int dirfd, unsigned& active) const;

  const cgroup::CgroupReader& cgroups_;
  std::unique_ptr<cgroup::CgroupStatsSocket> stats_;  // null: no netlink
  int proc_;
  std::chrono::milliseconds interval_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::map<std::string, Entry> entries_;
  std::function<void()> before_sample_;
  std::thread thread_;
};

}  // namespace vproc::view
