// Per-cgroup load averages, computed the way the kernel computes the host's:
// every 5 s, count the cgroup's runnable (R) and uninterruptible (D) tasks
// and fold the count into 1/5/15-minute exponential averages.
//
// Only cgroups whose loadavg was read in the last 10 minutes are sampled, so
// the cost grows with the tasks of those containers, not with the host's.
// Reads <cgroup>/tasks (v1) or cgroup.threads (v2), then <proc>/<tid>/stat.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fsd/cgroup/cgroup_reader.h"
#include "fsd/core/readings.h"

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

  void start();
  // The cgroup's averages; starts tracking it if new.
  std::array<uint64_t, 3> averages(const cgroup::Place& place);
  // Counts of the cgroup's tasks now: running (R) and all; the tids seen.
  struct Count {
    unsigned active = 0, running = 0, total = 0;
    std::vector<pid_t> tids;
  };
  Count count(const cgroup::Place& place) const;

 private:
  struct Entry {
    cgroup::Place place;
    std::array<uint64_t, 3> avg{};
    std::chrono::steady_clock::time_point last_read;
  };
  void loop();
  void sample_all();

  const cgroup::CgroupReader& cgroups_;
  int proc_;
  std::chrono::milliseconds interval_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::map<std::string, Entry> entries_;
  std::thread thread_;
};

}  // namespace vproc::view
