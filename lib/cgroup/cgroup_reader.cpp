#include "lib/cgroup/cgroup_reader.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <memory>

#include "lib/base/io.h"
#include "lib/base/sys_error.h"
#include "lib/core/render.h"
#include "lib/core/text.h"

namespace vproc::cgroup {

namespace {

constexpr const char* kV1Controllers[] = {"memory", "cpu", "cpuacct", "cpuset", "blkio", "pids"};

bool has_file(int dirfd, const std::string& rel) {
  struct stat st;
  return ::fstatat(dirfd, rel.c_str(), &st, 0) == 0;
}

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};
using DirPtr = std::unique_ptr<DIR, DirCloser>;

}  // namespace

Layout detect_layout(int root) {
  Layout l;
  if (has_file(root, "cgroup.controllers")) {
    l.unified_dir = "";
    return l;
  }
  UniqueFd dup = open_at(root, ".", O_RDONLY | O_DIRECTORY, "cgroup root");
  DirPtr dir(::fdopendir(dup.get()));
  if (!dir) throw SysError("fdopendir", "cgroup root", errno);
  dup.release();
  while (dirent* e = ::readdir(dir.get())) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st;
    if (::fstatat(root, name.c_str(), &st, 0) != 0 || !S_ISDIR(st.st_mode)) continue;
    if (has_file(root, name + "/cgroup.controllers")) {
      l.unified_dir = name;
      continue;
    }
    for (auto c : core::split(name, ',')) {
      for (const char* known : kV1Controllers) {
        // Prefer the real directory ("cpu,cpuacct") over its symlinks ("cpu").
        if (c == known && (!l.v1_dir.count(known) || name.find(',') != std::string::npos)) {
          l.v1_dir[known] = name;
        }
      }
    }
  }
  return l;
}

std::string describe(const Layout& l) {
  if (l.pure_v2()) return "cgroup v2 (unified)";
  std::string s = l.unified_dir ? "cgroup hybrid (v1:" : "cgroup v1 (";
  for (const auto& [c, d] : l.v1_dir) s += " " + c;
  s += ")";
  return s;
}

ReaderCgroups resolve(const Layout& layout, const core::ProcCgroup& pc) {
  ReaderCgroups rc;
  if (layout.unified_dir && pc.unified) {
    rc.unified = Place{*layout.unified_dir, *pc.unified, true};
  }
  auto keys_of = [](ReaderCgroups& r) {
    std::string last;
    for (const auto* p : {&r.memory, &r.cpu, &r.unified}) {
      std::string k = *p ? (*p)->key() : std::string("-");
      if (k == last) continue;  // v2: one cgroup for all three
      r.tenant += (r.tenant.empty() ? "" : ",") + k;
      last = std::move(k);
    }
    for (const auto* p : {&r.memory, &r.cpu, &r.cpuacct, &r.cpuset, &r.io, &r.unified}) {
      r.all += (*p ? (*p)->key() : std::string("-")) + "\n";
    }
  };
  if (layout.pure_v2()) {
    rc.memory = rc.cpu = rc.cpuacct = rc.cpuset = rc.io = rc.unified;
    keys_of(rc);
    return rc;
  }
  auto v1 = [&](const char* ctrl) -> std::optional<Place> {
    auto d = layout.v1_dir.find(ctrl);
    auto p = pc.v1.find(ctrl);
    if (d == layout.v1_dir.end() || p == pc.v1.end()) return std::nullopt;
    return Place{d->second, p->second, false};
  };
  rc.memory = v1("memory");
  rc.cpu = v1("cpu");
  rc.cpuacct = v1("cpuacct");
  rc.cpuset = v1("cpuset");
  rc.io = v1("blkio");
  keys_of(rc);
  return rc;
}

std::vector<std::string> ancestors(const std::string& path) {
  std::vector<std::string> out;
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  for (;;) {
    out.push_back(p.empty() ? "/" : p);
    if (p.empty() || p == "/") break;
    auto slash = p.rfind('/');
    p = slash == 0 ? "/" : p.substr(0, slash);
  }
  return out;
}

namespace {

// Whether the tree under root is the kernel's rather than a copy: root's own
// filesystem, or on a v1 or hybrid host (where root is a tmpfs holding one
// cgroupfs per hierarchy) the memory hierarchy's.
bool live_memory_tree(int root, const Layout& layout) {
  if (FdCache::kernel_generated(root)) return true;
  auto memory = layout.v1_dir.find("memory");
  if (memory == layout.v1_dir.end()) return false;
  UniqueFd dir = open_at_optional(root, memory->second, O_RDONLY | O_DIRECTORY);
  return dir && FdCache::kernel_generated(dir.get());
}

}  // namespace

CgroupReader::CgroupReader(UniqueFd root, std::optional<bool> kernel_tree)
    : root_(std::move(root)),
      layout_(detect_layout(root_.get())),
      files_(root_.get()),
      kernel_tree_(kernel_tree ? *kernel_tree : live_memory_tree(root_.get(), layout_)) {}

std::string CgroupReader::rel(const Place& p, const std::string& path,
                              const std::string& file) const {
  std::string r = p.hier;
  for (auto part : core::split(path, '/')) {
    // /proc/<pid>/cgroup comes from the kernel, but never let a path step up.
    if (part.empty() || part == ".") continue;
    if (part == "..") throw SysError("cgroup path", path, "contains ..");
    if (!r.empty()) r += '/';
    r += part;
  }
  if (!r.empty()) r += '/';
  return r + file;
}

std::optional<std::string> CgroupReader::read(const Place& p, const std::string& path,
                                              const std::string& file) const {
  std::string r = rel(p, path, file);
  return files_.read(r, "cgroup:");
}

template <typename T, typename Parse, typename Less>
std::optional<T> CgroupReader::tightest(const Place& p, const std::string& file, Parse parse,
                                        Less less) const {
  std::optional<T> best;
  for (const auto& a : ancestors(p.path)) {
    // The root of a hierarchy is never limited: v1 pins its limit files at
    // "unlimited", v2 has none. Not reading it saves a syscall per open.
    if (a == "/") continue;
    auto text = read(p, a, file);
    if (!text) continue;
    std::optional<T> v = parse(*text, rel(p, a, file));
    if (v && (!best || less(*v, *best))) best = v;
  }
  return best;
}

core::MemoryReadings CgroupReader::memory(const Place& p) const {
  core::MemoryReadings m;
  auto lt = [](uint64_t a, uint64_t b) { return a < b; };
  auto number = [&](const std::string& file) -> uint64_t {
    auto t = read(p, p.path, file);
    return t ? core::parse_number(*t, rel(p, p.path, file)) : 0;
  };
  auto stat = read(p, p.path, "memory.stat");
  if (p.v2) {
    m.max = tightest<uint64_t>(p, "memory.max", core::parse_limit, lt);
    m.current = number("memory.current");
    m.swap_max = tightest<uint64_t>(p, "memory.swap.max", core::parse_limit, lt);
    // Swap in use only matters under a swap limit (else the host's swap shows).
    if (m.swap_max) m.swap_current = number("memory.swap.current");
    if (stat) m.stat = core::parse_flat_keyed(*stat, rel(p, p.path, "memory.stat"));
  } else {
    core::KeyedValues v1;
    if (stat) {
      v1 =
          core::parse_flat_keyed(*stat, rel(p, p.path, "memory.stat"), core::v1_memory_stat_keys());
    }
    // The kernel's own minimum over the ancestors (hierarchical_*_limit in
    // memory.stat) saves reading a limit file per ancestor; without it (or in
    // a copied tree, where it is just what was copied), walk.
    auto limit = [&](const char* stat_key, const char* file) -> std::optional<uint64_t> {
      auto it = kernel_tree_ ? v1.find(stat_key) : v1.end();
      if (it == v1.end()) return tightest<uint64_t>(p, file, core::parse_limit, lt);
      return it->second >= core::kV1Unlimited ? std::nullopt : std::optional<uint64_t>(it->second);
    };
    m.max = limit("hierarchical_memory_limit", "memory.limit_in_bytes");
    m.current = number("memory.usage_in_bytes");
    // memsw counts memory plus swap; the swap part is what exceeds memory.
    auto memsw = limit("hierarchical_memsw_limit", "memory.memsw.limit_in_bytes");
    if (memsw && m.max) m.swap_max = *memsw > *m.max ? *memsw - *m.max : 0;
    if (m.swap_max) {  // as for v2: without a swap limit the host's swap shows
      uint64_t memsw_usage = number("memory.memsw.usage_in_bytes");
      m.swap_current = memsw_usage > m.current ? memsw_usage - m.current : 0;
    }
    if (stat) m.stat = core::v1_memory_stat_to_v2(v1);
  }
  return m;
}

core::CpuReadings CgroupReader::cpu_usage(const Place& p) const {
  core::CpuReadings r;
  if (p.v2) {
    if (auto t = read(p, p.path, "cpu.stat")) {
      auto kv = core::parse_flat_keyed(*t, rel(p, p.path, "cpu.stat"));
      r.total.user_ns = kv["user_usec"] * 1000;
      r.total.system_ns = kv["system_usec"] * 1000;
    }
    return r;
  }
  if (auto t = read(p, p.path, "cpuacct.usage_all")) {
    r.per_cpu = core::parse_cpuacct_usage_all(*t, rel(p, p.path, "cpuacct.usage_all"));
  } else if (auto pc = read(p, p.path, "cpuacct.usage_percpu")) {
    // Older kernels: per-CPU totals only; split them by cpuacct.stat's ratio.
    auto per = core::parse_cpuacct_usage_percpu(*pc, rel(p, p.path, "cpuacct.usage_percpu"));
    uint64_t u = 1, s = 0;
    if (auto st = read(p, p.path, "cpuacct.stat")) {
      auto kv = core::parse_flat_keyed(*st, rel(p, p.path, "cpuacct.stat"));
      u = kv["user"];
      s = kv["system"];
      if (u + s == 0) u = 1;
    }
    for (size_t i = 0; i < per.size(); ++i) {
      uint64_t user = static_cast<uint64_t>(static_cast<long double>(per[i]) * u / (u + s));
      r.per_cpu[static_cast<int>(i)] = core::CpuUsage{user, per[i] - user};
    }
  }
  for (const auto& [cpu, u] : r.per_cpu) {
    r.total.user_ns += u.user_ns;
    r.total.system_ns += u.system_ns;
  }
  return r;
}

core::CpuLimits CgroupReader::cpu_limits(const std::optional<Place>& cpu,
                                         const std::optional<Place>& cpuset) const {
  core::CpuLimits l;
  if (cpuset && !cpuset->is_root()) {
    const char* file = cpuset->v2 ? "cpuset.cpus.effective" : "cpuset.effective_cpus";
    auto t = read(*cpuset, cpuset->path, file);
    if (!t && !cpuset->v2) t = read(*cpuset, cpuset->path, "cpuset.cpus");
    if (t) l.cpuset = core::parse_cpu_list(*t);
  }
  if (cpu && !cpu->is_root()) {
    auto less = [](const core::CpuQuota& a, const core::CpuQuota& b) {
      return static_cast<unsigned __int128>(a.quota_us) * b.period_us <
             static_cast<unsigned __int128>(b.quota_us) * a.period_us;
    };
    if (cpu->v2) {
      l.quota = tightest<core::CpuQuota>(*cpu, "cpu.max", core::parse_cpu_max, less);
    } else {
      auto v1_quota = [&](const std::string& text,
                          const std::string& file) -> std::optional<core::CpuQuota> {
        auto q = core::parse_signed(text, file);
        if (!q) return std::nullopt;
        // The period sits beside the quota file.
        std::string dir = file.substr(0, file.rfind('/') + 1);
        auto period_text = files_.read(dir + "cpu.cfs_period_us", "");
        if (!period_text) return std::nullopt;
        uint64_t period = core::parse_number(*period_text, dir + "cpu.cfs_period_us");
        if (period == 0) return std::nullopt;
        return core::CpuQuota{static_cast<uint64_t>(*q), period};
      };
      l.quota = tightest<core::CpuQuota>(*cpu, "cpu.cfs_quota_us", v1_quota, less);
    }
  }
  return l;
}

core::IoReadings CgroupReader::io(const Place& p) const {
  if (p.v2) {
    auto t = read(p, p.path, "io.stat");
    return t ? core::parse_io_stat(*t, rel(p, p.path, "io.stat")) : core::IoReadings{};
  }
  auto bytes = read(p, p.path, "blkio.throttle.io_service_bytes_recursive");
  auto ios = read(p, p.path, "blkio.throttle.io_serviced_recursive");
  return core::parse_blkio_v1(bytes.value_or(""), ios.value_or(""),
                              rel(p, p.path, "blkio.throttle.*"));
}

std::optional<std::string> CgroupReader::pressure(const Place& p,
                                                  const std::string& resource) const {
  return read(p, p.path, resource + ".pressure");
}

std::vector<pid_t> CgroupReader::tasks(const Place& p, size_t cap) const {
  std::vector<pid_t> out;
  const char* file = p.v2 ? "cgroup.threads" : "tasks";
  std::vector<std::string> todo = {p.path};
  size_t dirs = 0;
  while (!todo.empty() && out.size() < cap && dirs < 4096) {
    std::string path = todo.back();
    todo.pop_back();
    ++dirs;
    if (auto t = read(p, path, file)) {
      for (auto tok : core::split_ws(*t)) {
        if (auto v = parse_u64(tok); v && *v > 0 && *v < (1u << 30) && out.size() < cap) {
          out.push_back(static_cast<pid_t>(*v));
        }
      }
    }
    UniqueFd dfd = open_at_optional(root_.get(), rel(p, path, "."), O_RDONLY | O_DIRECTORY);
    if (!dfd) continue;
    DirPtr dir(::fdopendir(dfd.get()));
    if (!dir) continue;
    dfd.release();
    while (dirent* e = ::readdir(dir.get())) {
      if (e->d_type != DT_DIR || e->d_name[0] == '.') continue;
      todo.push_back((path == "/" ? "" : path) + "/" + e->d_name);
    }
  }
  return out;
}

UniqueFd CgroupReader::open_dir(const Place& p) const {
  return open_at_optional(root_.get(), rel(p, p.path, "."), O_RDONLY | O_DIRECTORY);
}

std::vector<int> visible_cpus_of(const CgroupReader& reader, std::string_view proc_cgroup,
                                 std::string_view host_stat, core::CpuView view) {
  ReaderCgroups cg = resolve(reader.layout(), core::parse_proc_cgroup(proc_cgroup, "cgroup"));
  return core::visible_cpus(core::online_cpus_of_stat(host_stat),
                            reader.cpu_limits(cg.cpu, cg.cpuset), view);
}

}  // namespace vproc::cgroup
