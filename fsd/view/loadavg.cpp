#include "fsd/view/loadavg.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "lib/base/io.h"
#include "lib/base/log.h"
#include "lib/cgroup/fd_cache.h"
#include "lib/core/parse.h"
#include "lib/core/render.h"

namespace vproc::view {

LoadTracker::LoadTracker(const cgroup::CgroupReader& cgroups, int proc_root,
                         std::chrono::milliseconds interval)
    : cgroups_(cgroups), proc_(proc_root), interval_(interval) {
  // Here, before the seccomp filter (which refuses socket()). cgroupstats
  // answers for v1 hierarchies only: none, no socket.
  if (!cgroups_.layout().v1_dir.count("cpu")) return;
  try {
    stats_ = std::make_unique<cgroup::CgroupStatsSocket>();
  } catch (const std::exception& e) {
    log_line(std::string("vprocd: loadavg: no taskstats netlink (") + e.what() +
             "); counting tasks from the tasks files");
  }
}

LoadTracker::~LoadTracker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void LoadTracker::start() {
  thread_ = std::thread([this] { loop(); });
}

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
  return track(place, /*sample_now=*/true);
}

std::array<uint64_t, 3> LoadTracker::track(const cgroup::Place& place, bool sample_now) {
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
  Entry e{place, {}, now, make_probe(place)};
  // First read of this cgroup: one sample now so the averages start moving. A
  // followed one is counted from the next sample on.
  const unsigned n = sample_now ? active(place, *e.probe) : 0;
  for (size_t i = 0; i < 3; ++i) {
    e.avg[i] = core::calc_load(0, core::kLoadExp[i], n * core::kFixed1);
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = entries_.emplace(key, std::move(e));
  return it->second.avg;
}

std::shared_ptr<LoadTracker::Probe> LoadTracker::make_probe(const cgroup::Place& place) const {
  auto probe = std::make_shared<Probe>();
  if (!stats_ || place.v2) return probe;
  try {
    probe->dir = cgroups_.open_dir(place);
  } catch (const std::exception&) {
    return probe;  // the tasks files report it
  }
  // Only a live v1 cgroupfs answers (v2 places are out above); a copied tree
  // is read from its files.
  if (probe->dir && FdCache::kernel_generated(probe->dir.get())) {
    probe->netlink = true;
  } else {
    probe->dir.reset();
  }
  return probe;
}

unsigned LoadTracker::active(const cgroup::Place& place, Probe& probe) const {
  if (probe.netlink) {
    int err = 0;
    // ENOENT: the cgroup was removed, and one of the same name may have
    // replaced it (a restarted container): open the path again, once.
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!probe.dir) probe.dir = cgroups_.open_dir(place);
      if (!probe.dir) return 0;  // gone: no tasks
      unsigned n = 0;
      err = active_netlink(probe.dir.get(), n);
      if (err == 0) return n;
      probe.dir.reset();
      if (err != ENOENT) break;
    }
    if (err == ENOENT) return 0;
    // For good: an error here would repeat at every sample.
    probe.netlink = false;
    log_limited("vprocd: loadavg: taskstats netlink failed for " + place.key() + " (" +
                std::strerror(err) + "); counting its tasks from the tasks files");
  }
  return count(place).active;
}

int LoadTracker::active_netlink(int top, unsigned& active) const {
  constexpr size_t kMaxDirs = 4096;  // as CgroupReader::tasks()
  uint64_t sum = 0;
  size_t dirs = 1;
  std::vector<UniqueFd> todo;  // descendants still to count
  auto visit = [&](int fd, bool is_top) -> int {
    cgroup::TaskCounts c;
    if (int err = stats_->query(fd, c)) return err == ENOENT && !is_top ? 0 : err;
    sum += c.running + c.uninterruptible + c.io_wait;
    struct stat st;
    if (::fstat(fd, &st) != 0) return errno;
    if (st.st_nlink <= 2) return 0;  // kernfs: 2 + the number of subdirectories
    if (is_top && ::lseek(fd, 0, SEEK_SET) != 0) return errno;  // listed at the last sample
    alignas(dirent64) char buf[4096];
    for (;;) {
      ssize_t n = retry_eintr([&] { return ::getdents64(fd, buf, sizeof buf); });
      if (n < 0) return errno;
      if (n == 0) return 0;
      for (size_t off = 0; off < static_cast<size_t>(n);) {
        const auto* d = reinterpret_cast<const dirent64*>(buf + off);
        if (d->d_reclen == 0) return EBADMSG;
        off += d->d_reclen;
        if (d->d_type != DT_DIR || d->d_name[0] == '.' || dirs >= kMaxDirs) continue;
        UniqueFd child = open_at_optional(fd, d->d_name, O_RDONLY | O_DIRECTORY);
        if (!child) continue;  // removed since the listing
        todo.push_back(std::move(child));
        ++dirs;
      }
    }
  };
  if (int err = visit(top, true)) return err;
  while (!todo.empty()) {
    UniqueFd fd = std::move(todo.back());
    todo.pop_back();
    if (int err = visit(fd.get(), false)) return err;
  }
  active = static_cast<unsigned>(std::min<uint64_t>(sum, kMaxTasks));
  return 0;
}

void LoadTracker::follow(const cgroup::Place& place) { track(place, /*sample_now=*/false); }

void LoadTracker::loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, interval_, [this] { return stop_; });
    if (stop_) break;
    lock.unlock();
    if (before_sample_) before_sample_();
    sample_all();
    lock.lock();
  }
}

void LoadTracker::sample_all() {
  std::vector<std::pair<cgroup::Place, std::shared_ptr<Probe>>> places;
  const auto expiry = std::chrono::steady_clock::now() - std::chrono::minutes(10);
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (it->second.last_read < expiry) {
        it = entries_.erase(it);  // closes its directory fd
      } else {
        places.emplace_back(it->second.place, it->second.probe);
        ++it;
      }
    }
  }
  for (const auto& [place, probe] : places) {
    unsigned n = 0;
    try {
      n = active(place, *probe);
    } catch (const std::exception& e) {
      log_limited(std::string("loadavg sample: ") + e.what());
    }
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(place.key());
    if (it == entries_.end()) continue;
    for (size_t i = 0; i < 3; ++i) {
      it->second.avg[i] = core::calc_load(it->second.avg[i], core::kLoadExp[i], n * core::kFixed1);
    }
  }
}

}  // namespace vproc::view
