#include "fsd/view/loadavg.h"

#include "common/io.h"
#include "common/log.h"
#include "fsd/core/parse.h"
#include "fsd/core/render.h"

namespace vproc::view {

LoadTracker::LoadTracker(const cgroup::CgroupReader& cgroups, int proc_root,
                         std::chrono::milliseconds interval)
    : cgroups_(cgroups), proc_(proc_root), interval_(interval) {}

LoadTracker::~LoadTracker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void LoadTracker::start() { thread_ = std::thread([this] { loop(); }); }

LoadTracker::Count LoadTracker::count(const cgroup::Place& place) const {
  Count c;
  c.tids = cgroups_.tasks(place, kMaxTasks);
  for (pid_t tid : c.tids) {
    std::string f = std::to_string(tid) + "/stat";
    std::optional<std::string> text;
    try {
      text = read_file_at(proc_, f);
    } catch (const std::exception&) {
      continue;  // exited between the listing and the read
    }
    if (!text) continue;
    char state = '?';
    try {
      state = core::parse_pid_stat(*text, f).state;
    } catch (const std::exception&) {
      continue;
    }
    ++c.total;
    if (state == 'R') ++c.running;
    if (state == 'R' || state == 'D') ++c.active;
  }
  return c;
}

std::array<uint64_t, 3> LoadTracker::averages(const cgroup::Place& place) {
  const std::string key = place.key();
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(key);
    if (it != entries_.end()) {
      it->second.last_read = now;
      return it->second.avg;
    }
    if (entries_.size() >= kMaxTracked) return {};  // full: averages stay 0 until one expires
  }
  // First read of this cgroup: one sample now so the averages start moving.
  Entry e{place, {}, now};
  Count c = count(place);
  for (size_t i = 0; i < 3; ++i) {
    e.avg[i] = core::calc_load(0, core::kLoadExp[i], c.active * core::kFixed1);
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = entries_.emplace(key, e);
  return it->second.avg;
}

void LoadTracker::loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, interval_, [this] { return stop_; });
    if (stop_) break;
    lock.unlock();
    sample_all();
    lock.lock();
  }
}

void LoadTracker::sample_all() {
  std::vector<cgroup::Place> places;
  const auto expiry = std::chrono::steady_clock::now() - std::chrono::minutes(10);
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (it->second.last_read < expiry) {
        it = entries_.erase(it);
      } else {
        places.push_back(it->second.place);
        ++it;
      }
    }
  }
  for (const auto& place : places) {
    unsigned active = 0;
    try {
      active = count(place).active;
    } catch (const std::exception& e) {
      log_limited(std::string("loadavg sample: ") + e.what());
    }
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(place.key());
    if (it == entries_.end()) continue;
    for (size_t i = 0; i < 3; ++i) {
      it->second.avg[i] =
          core::calc_load(it->second.avg[i], core::kLoadExp[i], active * core::kFixed1);
    }
  }
}

}  // namespace vproc::view
