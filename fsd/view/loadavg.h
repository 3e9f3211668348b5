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
// A read never counts tasks itself: it answers from the entry of its cgroup,
// the averages and running count of the sampler's last sample, and the
// total and newest tids from the cgroup's tasks files, read at most once a
// second per cgroup (so thousands of threads in a tenant's cgroup cost its
// readers one tasks read a second, not a /proc/<tid>/stat per thread per
// open). A cgroup read for the first time is added and the sampler is woken
// to take its first sample; a full table (kMaxTracked) evicts the least
// recently read cgroup that is not a registered container's.
#pragma once

#include <array>
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
  // What a read of the cgroup's loadavg shows: averages and running tasks
  // as of the last sample, all tasks and the newest tids (highest first, at
  // most kNewest) as of the last second. Starts following a new cgroup (the
  // sampler takes its first sample as soon as it wakes): until then its
  // averages are 0. Never walks the cgroup's tasks' /proc files.
  static constexpr size_t kNewest = 16;
  struct Sample {
    std::array<uint64_t, 3> avg{};
    unsigned running = 0, total = 0;
    std::vector<pid_t> newest;
  };
  Sample read(const cgroup::Place& place);
  // Keeps the cgroup tracked as if it were read now, and never evicted while
  // followed; a new one starts at 0 and is counted from the next sample on (a
  // registered container, followed before anyone reads its loadavg).
  void follow(const cgroup::Place& place);
  // Counts of the cgroup's tasks now: active (R, D), running (R) and all.
  struct Count {
    unsigned active = 0, running = 0, total = 0;
  };
  Count count(const cgroup::Place& place) const;
  size_t tracked() const;

 private:
  // How one tracked cgroup is counted. Made and used by the sampler thread only
  // (opening the cgroup directory is not a reader's work).
  struct Probe {
    bool netlink = false;  // through stats_ and dir; else from the tasks files
    UniqueFd dir;          // the cgroup's directory (reopened after ENOENT)
  };
  using Clock = std::chrono::steady_clock;
  struct Entry {
    cgroup::Place place;
    Sample shown;
    Clock::time_point last_read, last_follow, tasks_read;
    bool sampled = false;          // false: its first sample is still to come
    std::shared_ptr<Probe> probe;  // made by the sampler thread
  };
  // read() and follow(): the cgroup's entry, marked read now; added when new
  // (evicting if full); nullptr when the table is full of followed ones.
  Entry* touch(const cgroup::Place& place, bool follow, Clock::time_point now);
  // Refreshes an entry's total and newest tids from the tasks files.
  void read_tasks(const cgroup::Place& place, Sample& s) const;
  void loop();
  // Samples every entry (all) or those never sampled yet.
  void sample(bool all);
  std::shared_ptr<Probe> make_probe(const cgroup::Place& place) const;
  // Active and running tasks of the cgroup and its descendants now.
  Count active(const cgroup::Place& place, Probe& probe) const;
  // The same through netlink, from the cgroup directory dirfd; 0 or an errno.
  int active_netlink(int dirfd, Count& out) const;

  const cgroup::CgroupReader& cgroups_;
  std::unique_ptr<cgroup::CgroupStatsSocket> stats_;  // null: no netlink
  int proc_;
  std::chrono::milliseconds interval_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool pending_ = false;  // entries wait for their first sample
  std::map<std::string, Entry> entries_;
  std::function<void()> before_sample_;
  std::thread thread_;
};

}  // namespace vproc::view
