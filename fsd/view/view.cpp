#include "fsd/view/view.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <set>

#include "lib/base/io.h"
#include "lib/base/log.h"
#include "lib/base/sys_error.h"
#include "lib/cgroup/fd_cache.h"
#include "lib/core/parse.h"
#include "lib/core/render.h"
#include "lib/core/text.h"
#include "lib/registry/registry.h"

namespace vproc::view {

ViewService::ViewService(UniqueFd cgroup_root, UniqueFd proc_root, Options options)
    : proc_(std::move(proc_root)),
      proc_files_(proc_.get()),
      cgroups_(std::move(cgroup_root)),
      readers_(proc_.get()),
      options_(options) {
  live_proc_ = FdCache::kernel_generated(proc_.get());
  share_ = options_.share_for.count() > 0 && live_proc_ && cgroups_.kernel_tree();
  if (options_.loadavg) {
    load_ = std::make_unique<LoadTracker>(cgroups_, proc_.get(), options_.loadavg_interval);
  }
}

void ViewService::start_sampler() {
  if (!load_) return;
  if (!options_.registry_dir.empty()) {
    follow_registered();
    load_->set_before_sample([this] { follow_registered(); });
  }
  load_->start();
}

bool ViewService::registry_unchanged(const struct stat& st) const {
  // A record is added, replaced and removed by a rename or an unlink in the
  // directory, which sets its mtime. That clock ticks in jiffies: a change in
  // the same tick as the last scan would leave the mtime as it was, so a
  // directory changed in the last second is scanned anyway.
  struct timespec now {};
  ::clock_gettime(CLOCK_REALTIME, &now);
  return st.st_ino == registry_dir_.st_ino && st.st_dev == registry_dir_.st_dev &&
         st.st_mtim.tv_sec == registry_dir_.st_mtim.tv_sec &&
         st.st_mtim.tv_nsec == registry_dir_.st_mtim.tv_nsec && now.tv_sec > st.st_mtim.tv_sec + 1;
}

void ViewService::follow_registered() {
  struct stat dir {};
  if (::stat((options_.registry_dir + "/containers").c_str(), &dir) == 0 &&
      registry_unchanged(dir)) {
    for (const auto& [id, f] : followed_) load_->follow(f.place);
    return;
  }
  std::set<std::string> present;
  for (const std::string& id : registered_ids(options_.registry_dir)) {
    present.insert(id);
    try {
      // A record is written once per container (and again, by rename, at a
      // re-attach; tmpfs does not hand an inode number out again soon): while
      // its inode is the one seen before, the container is the one followed,
      // and the record need not be read again.
      struct stat st {};
      if (::stat(entry_path(options_.registry_dir, id).c_str(), &st) != 0) continue;  // removed
      auto it = followed_.find(id);
      if (it == followed_.end() || it->second.record != st.st_ino) {
        std::optional<RegistryEntry> e = read_entry(options_.registry_dir, id);
        if (!e || !same_process(e->pid, e->pid_start_time, 0, proc_.get())) continue;
        Reader r = readers_.resolve(e->pid, cgroups_.layout());
        const auto& cpu = r.cgroups->cpu;
        if (!cpu || cpu->is_root()) continue;
        it = followed_.insert_or_assign(id, Followed{st.st_ino, *cpu}).first;
      }
      load_->follow(it->second.place);
    } catch (const std::exception& ex) {
      log_limited("vprocd: loadavg: registry record " + id + ": " + ex.what());
    }
  }
  std::erase_if(followed_, [&](const auto& kv) { return !present.count(kv.first); });
  registry_dir_ = dir;  // all zero when there is no directory: scanned again next time
}

std::string ViewService::host(const char* file) const {
  auto text = proc_files_.read(file, "/proc/");
  if (!text) throw SysError("open", std::string("/proc/") + file, ENOENT);
  return *text;
}

bool ViewService::host_has_pressure() const {
  return read_file_at(proc_.get(), "pressure/cpu").has_value();
}

size_t ViewService::size_hint(FileKind kind) const {
  const char* file = served_file(kind).host;
  size_t host_size = 0;
  if (file) {
    try {
      host_size = host(file).size();
    } catch (const std::exception&) {
      host_size = 0;
    }
  }
  return host_size + 4096;
}

uint64_t ViewService::age_ticks(const Reader& r) const {
  uint64_t up = 0;
  timespec now{};
  if (live_proc_ && ::clock_gettime(CLOCK_BOOTTIME, &now) == 0) {
    up = static_cast<uint64_t>(now.tv_sec) * core::kUserHz +
         static_cast<uint64_t>(now.tv_nsec) / core::kNsPerTick;
  } else {
    up = core::parse_uptime_ticks(host("uptime"), "/proc/uptime");
  }
  return up > r.init_start ? up - r.init_start : 0;
}

std::string ViewService::render(FileKind kind, pid_t pid) { return render(kind, reader(pid)); }

std::string ViewService::render(FileKind kind, const Reader& r) {
  if (!share_) return render_now(kind, r);
  std::string key = r.cgroups->all;
  key += r.container_key();
  key += r.host_pidns ? " host " : " ns ";
  key += std::to_string(static_cast<int>(kind));
  std::shared_ptr<Shared> slot = shared_slot(key, std::chrono::steady_clock::now());
  if (!slot) return render_now(kind, r);
  std::lock_guard<std::mutex> lock(slot->mu);
  // Taken with the slot held: a reader that waited for another's rendering
  // takes it when it is recent enough.
  const auto now = std::chrono::steady_clock::now();
  if (now - slot->at < options_.share_for) return slot->text;
  slot->text = render_now(kind, r);
  slot->at = std::chrono::steady_clock::now();
  return slot->text;
}

std::shared_ptr<ViewService::Shared> ViewService::shared_slot(
    const std::string& key, std::chrono::steady_clock::time_point now) {
  std::lock_guard<std::mutex> lock(shared_mu_);
  // Every 100 windows, forget the slots nobody used in the last window (a
  // thread that holds one keeps its own reference).
  if (now - swept_ > 100 * options_.share_for) {
    std::erase_if(shared_, [&](const auto& e) {
      std::unique_lock<std::mutex> busy(e.second->mu, std::try_to_lock);
      return busy.owns_lock() && now - e.second->at >= options_.share_for;
    });
    swept_ = now;
  }
  auto it = shared_.find(key);
  if (it != shared_.end()) return it->second;
  if (shared_.size() >= kMaxShared) return nullptr;
  return shared_.emplace(key, std::make_shared<Shared>()).first->second;
}

std::string ViewService::render_now(FileKind kind, const Reader& r) {
  const auto& cg = *r.cgroups;
  auto memory = [&] { return cg.memory ? cgroups_.memory(*cg.memory) : core::MemoryReadings{}; };
  auto visible_of = [&](const std::vector<int>& online) {
    return core::visible_cpus(online, cgroups_.cpu_limits(cg.cpu, cg.cpuset), options_.cpu_view);
  };
  auto visible = [&](const std::string& host_stat) {
    return visible_of(core::online_cpus_of_stat(host_stat));
  };
  auto cpu_group = [&] { return cg.cpuacct ? cg.cpuacct->key() : std::string("-"); };
  auto times = [&](const std::vector<int>& vis, uint64_t age) {
    core::CpuReadings usage = cg.cpuacct ? cgroups_.cpu_usage(*cg.cpuacct) : core::CpuReadings{};
    return states_.with(cpu_group(), r.container_key(), [&](core::CounterState& st) {
      return core::cpu_times(usage, vis, age, st);
    });
  };
  // The host's own version of the file being rendered.
  auto own = [&] { return host(served_file(kind).host); };
  auto pressure = [&](const char* res) {
    if (cg.unified && !cg.unified->is_root()) {
      if (auto mine = cgroups_.pressure(*cg.unified, res)) return *mine;
    }
    return own();
  };

  switch (kind) {
    case FileKind::kMeminfo:
      return core::render_meminfo(own(), memory());
    case FileKind::kSwaps:
      return core::render_swaps(own(), host("meminfo"), memory());
    case FileKind::kCpuinfo:
      return core::render_cpuinfo(own(), visible(host("stat")));
    case FileKind::kOnline:
    case FileKind::kPossible:
    case FileKind::kPresent:
      return core::render_online(visible(host("stat")));
    case FileKind::kStat: {
      std::string hs = host("stat");
      auto online = core::online_cpus_of_stat(hs);
      auto vis = visible_of(online);
      bool whole_host = (!cg.cpuacct || cg.cpuacct->is_root()) && vis == online;
      if (whole_host && r.host_pidns) return hs;
      return core::render_stat(hs, times(vis, age_ticks(r)));
    }
    case FileKind::kUptime: {
      if (r.host_pidns) return own();
      // One reading of the age for both fields, so idle never exceeds it.
      auto vis = visible(host("stat"));
      uint64_t age = age_ticks(r);
      return core::render_uptime(age, times(vis, age));
    }
    case FileKind::kDiskstats: {
      std::string hd = own();
      if (!cg.io || cg.io->is_root()) return hd;
      core::IoReadings io = cgroups_.io(*cg.io);
      return states_.with(cg.io->key(), r.container_key(), [&](core::CounterState& st) {
        return core::render_diskstats(hd, io, st);
      });
    }
    case FileKind::kLoadavg: {
      if (!load_ || !cg.cpu || cg.cpu->is_root()) return own();
      // From the sampler's last sample: no task of the cgroup is looked at here.
      LoadTracker::Sample s = load_->read(*cg.cpu);
      core::LoadAvg la;
      la.avg = s.avg;
      la.running = s.running;
      la.total = s.total;
      for (pid_t tid : s.newest) la.last_pid = std::max<long>(la.last_pid, readers_.pid_in(r, tid));
      return core::render_loadavg(la);
    }
    case FileKind::kPressureCpu:
      return pressure("cpu");
    case FileKind::kPressureMemory:
      return pressure("memory");
    case FileKind::kPressureIo:
      return pressure("io");
  }
  throw SysError("render", "", EINVAL);
}

}  // namespace vproc::view
