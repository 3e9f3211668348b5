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
  for (pid_t tid : cgroups_.tasks(place, kMaxTasks)) {
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

size_t LoadTracker::tracked() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

LoadTracker::Entry* LoadTracker::touch(const cgroup::Place& place, bool follow,
                                       Clock::time_point now) {
  const std::string key = place.key();
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    if (entries_.size() >= kMaxTracked) {
      // Evict the least recently read cgroup that no registered container
      // keeps followed: a reader of many cgroups pushes out only readers'
      // cgroups, the oldest first.
      const auto pinned = now - 3 * interval_;
      auto victim = entries_.end();
      for (auto e = entries_.begin(); e != entries_.end(); ++e) {
        if (e->second.last_follow >= pinned) continue;
        if (victim == entries_.end() || e->second.last_read < victim->second.last_read) victim = e;
      }
      if (victim == entries_.end()) return nullptr;
      entries_.erase(victim);
    }
    Entry e{place, {}, now, {}, {}, follow, nullptr};
    it = entries_.emplace(key, std::move(e)).first;
    if (!follow) {
      pending_ = true;  // the sampler takes its first sample now, not the reader
      cv_.notify_one();
    }
  }
  it->second.last_read = now;
  if (follow) it->second.last_follow = now;
  return &it->second;
}

void LoadTracker::read_tasks(const cgroup::Place& place, Sample& s) const {
  std::vector<pid_t> tids = cgroups_.tasks(place, kMaxTasks);
  s.total = static_cast<unsigned>(tids.size());
  const size_t n = std::min(kNewest, tids.size());
  std::partial_sort(tids.begin(), tids.begin() + static_cast<long>(n), tids.end(),
                    std::greater<pid_t>());
  s.newest.assign(tids.begin(), tids.begin() + static_cast<long>(n));
}

LoadTracker::Sample LoadTracker::read(const cgroup::Place& place) {
  const auto now = Clock::now();
  Sample s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Entry* e = touch(place, false, now);
    if (!e) return s;
    // The first reader in a second of this cgroup reads its tasks files;
    // the others show what it found.
    if (now - e->tasks_read < std::chrono::seconds(1)) return e->shown;
    e->tasks_read = now;
    s = e->shown;
  }
  try {
    read_tasks(place, s);
  } catch (const std::exception& ex) {
    log_limited(std::string("loadavg: ") + ex.what());
    return s;
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(place.key());
  if (it != entries_.end()) {
    it->second.shown.total = s.total;
    it->second.shown.newest = s.newest;
  }
  return s;
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

LoadTracker::Count LoadTracker::active(const cgroup::Place& place, Probe& probe) const {
  if (probe.netlink) {
    int err = 0;
    // ENOENT: the cgroup was removed, and one of the same name may have
    // replaced it (a restarted container): open the path again, once.
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!probe.dir) probe.dir = cgroups_.open_dir(place);
      if (!probe.dir) return {};  // gone: no tasks
      Count n;
      err = active_netlink(probe.dir.get(), n);
      if (err == 0) return n;
      probe.dir.reset();
      if (err != ENOENT) break;
    }
    if (err == ENOENT) return {};
    // For good: an error here would repeat at every sample.
    probe.netlink = false;
    log_limited("vprocd: loadavg: taskstats netlink failed for " + place.key() + " (" +
                std::strerror(err) + "); counting its tasks from the tasks files");
  }
  return count(place);
}

int LoadTracker::active_netlink(int top, Count& out) const {
  constexpr size_t kMaxDirs = 4096;  // as CgroupReader::tasks()
  uint64_t sum = 0, running = 0;
  size_t dirs = 1;
  std::vector<UniqueFd> todo;  // descendants still to count
  auto visit = [&](int fd, bool is_top) -> int {
    cgroup::TaskCounts c;
    if (int err = stats_->query(fd, c)) return err == ENOENT && !is_top ? 0 : err;
    sum += c.running + c.uninterruptible + c.io_wait;
    running += c.running;
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
  out.active = static_cast<unsigned>(std::min<uint64_t>(sum, kMaxTasks));
  out.running = static_cast<unsigned>(std::min<uint64_t>(running, kMaxTasks));
  return 0;
}

void LoadTracker::follow(const cgroup::Place& place) {
  std::lock_guard<std::mutex> lock(mu_);
  touch(place, true, Clock::now());
}

void LoadTracker::loop() {
  std::unique_lock<std::mutex> lock(mu_);
  auto next = Clock::now() + interval_;
  while (!stop_) {
    cv_.wait_until(lock, next, [this] { return stop_ || pending_; });
    if (stop_) break;
    const bool all = Clock::now() >= next;
    pending_ = false;
    lock.unlock();
    if (all && before_sample_) before_sample_();
    sample(all);
    lock.lock();
    if (all) next += interval_;
  }
}

void LoadTracker::sample(bool all) {
  struct Todo {
    cgroup::Place place;
    std::shared_ptr<Probe> probe;
    bool first;
  };
  std::vector<Todo> todo;
  const auto expiry = Clock::now() - std::chrono::minutes(10);
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = entries_.begin(); it != entries_.end();) {
      Entry& e = it->second;
      if (all && e.last_read < expiry) {
        it = entries_.erase(it);  // closes its directory fd
        continue;
      }
      if (all || !e.sampled) todo.push_back({e.place, e.probe, !e.sampled});
      ++it;
    }
  }
  for (Todo& t : todo) {
    if (!t.probe) {
      // Opened here, not under the lock the readers take.
      t.probe = make_probe(t.place);
      std::lock_guard<std::mutex> lock(mu_);
      auto it = entries_.find(t.place.key());
      if (it == entries_.end()) continue;
      if (!it->second.probe) it->second.probe = t.probe;
      t.probe = it->second.probe;
    }
    Count n;
    try {
      n = active(t.place, *t.probe);
    } catch (const std::exception& e) {
      log_limited(std::string("loadavg sample: ") + e.what());
    }
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(t.place.key());
    if (it == entries_.end() || it->second.probe != t.probe) continue;  // evicted meanwhile
    Entry& e = it->second;
    // A first sample folds into averages of 0, as the kernel's first tick would.
    if (t.first && e.sampled) continue;  // sampled by a full round meanwhile
    for (size_t i = 0; i < 3; ++i) {
      e.shown.avg[i] = core::calc_load(e.shown.avg[i], core::kLoadExp[i], n.active * core::kFixed1);
    }
    e.shown.running = n.running;
    e.sampled = true;
  }
}

}  // namespace vproc::view
