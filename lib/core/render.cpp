#include "lib/core/render.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <set>
#include <stdexcept>

#include "lib/base/io.h"
#include "lib/core/parse.h"
#include "lib/core/text.h"

namespace vproc::core {

namespace {

uint64_t sat_sub(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

std::string ticks_to_seconds(uint64_t ticks) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%llu.%02llu", static_cast<unsigned long long>(ticks / kUserHz),
                static_cast<unsigned long long>(ticks % kUserHz));
  return buf;
}

// "Key:" padded to 16 columns, the value right-aligned in 8 and " kB", as
// /proc/meminfo has it.
void append_kb_line(std::string& out, std::string_view key, uint64_t kb) {
  char num[24];
  auto res = std::to_chars(num, num + sizeof num, kb);
  const size_t digits = static_cast<size_t>(res.ptr - num);
  out += key;
  out += ':';
  if (key.size() + 1 < 16) out.append(15 - key.size(), ' ');
  if (digits < 8) out.append(8 - digits, ' ');
  out.append(num, digits);
  out += " kB";
}

uint64_t stat_kb(const MemoryReadings& mem, const char* key) {
  auto it = mem.stat.find(key);
  return it == mem.stat.end() ? 0 : it->second / 1024;
}

struct SwapView {
  uint64_t total_kb = 0;
  uint64_t free_kb = 0;
  bool host = true;  // no swap limit: the host's swap lines stand
};

// The host's /proc/meminfo values the views start from (checked line by line).
struct HostMemory {
  uint64_t mem_total_kb = 0;
  uint64_t swap_total_kb = 0;
  uint64_t swap_free_kb = 0;
};

HostMemory host_memory(std::string_view host_meminfo) {
  HostMemory h;
  scan_meminfo(host_meminfo, "meminfo", [&](std::string_view key, uint64_t value, bool) {
    if (key == "MemTotal")
      h.mem_total_kb = value;
    else if (key == "SwapTotal")
      h.swap_total_kb = value;
    else if (key == "SwapFree")
      h.swap_free_kb = value;
  });
  return h;
}

SwapView swap_view(const HostMemory& host, const MemoryReadings& mem) {
  SwapView v;
  uint64_t host_total = host.swap_total_kb;
  v.total_kb = host_total;
  v.free_kb = host.swap_free_kb;
  if (mem.swap_max) {
    v.host = false;
    v.total_kb = std::min(host_total, *mem.swap_max / 1024);
    v.free_kb = sat_sub(v.total_kb, mem.swap_current / 1024);
  }
  return v;
}

// Whether the memory view applies at all: a limit below the host's memory.
std::optional<uint64_t> limit_kb(const HostMemory& host, const MemoryReadings& mem) {
  if (!mem.max) return std::nullopt;
  uint64_t host_total = host.mem_total_kb;
  uint64_t kb = *mem.max / 1024;
  if (host_total != 0 && kb >= host_total) return std::nullopt;
  return kb;
}

}  // namespace

std::vector<int> visible_cpus(const std::vector<int>& host_online, const CpuLimits& limits,
                              CpuView view) {
  std::vector<int> base;
  if (limits.cpuset) {
    std::set<int> online(host_online.begin(), host_online.end());
    for (int c : *limits.cpuset) {
      if (online.count(c)) base.push_back(c);
    }
  }
  if (base.empty()) base = host_online;
  if (base.empty()) return base;
  if (view == CpuView::kQuota && limits.quota && limits.quota->period_us > 0) {
    uint64_t n = (limits.quota->quota_us + limits.quota->period_us - 1) / limits.quota->period_us;
    n = std::clamp<uint64_t>(n, 1, base.size());
    base.resize(n);
  }
  return base;
}

std::map<int, CpuTimes> cpu_times(const CpuReadings& usage, const std::vector<int>& visible,
                                  uint64_t age_ticks, CounterState& state) {
  std::map<int, CpuTimes> out;
  if (visible.empty()) return out;
  const uint64_t n = visible.size();
  std::set<int> vis(visible.begin(), visible.end());
  CpuUsage fold;  // usage on CPUs the reader does not see, or all of it without a split
  if (usage.per_cpu.empty()) {
    fold = usage.total;
  } else {
    for (const auto& [cpu, u] : usage.per_cpu) {
      if (!vis.count(cpu)) {
        fold.user_ns += u.user_ns;
        fold.system_ns += u.system_ns;
      }
    }
  }
  for (int cpu : visible) {
    CpuUsage own;
    if (auto it = usage.per_cpu.find(cpu); it != usage.per_cpu.end()) own = it->second;
    CpuTimes t;
    t.user = (own.user_ns + fold.user_ns / n) / kNsPerTick;
    t.system = (own.system_ns + fold.system_ns / n) / kNsPerTick;
    t.idle = sat_sub(age_ticks, t.user + t.system);
    CpuTimes& last = state.cpu[cpu];
    t.user = std::max(t.user, last.user);
    t.system = std::max(t.system, last.system);
    t.idle = std::max(t.idle, last.idle);
    last = t;
    out[cpu] = t;
  }
  return out;
}

std::string render_meminfo(std::string_view host_meminfo, const MemoryReadings& mem) {
  const HostMemory host = host_memory(host_meminfo);
  auto total = limit_kb(host, mem);
  if (!total) return std::string(host_meminfo);

  const uint64_t used = mem.current / 1024;
  const uint64_t free = sat_sub(*total, used);
  const uint64_t file_lru = stat_kb(mem, "active_file") + stat_kb(mem, "inactive_file");
  const uint64_t sreclaimable = stat_kb(mem, "slab_reclaimable");
  const uint64_t sunreclaim = stat_kb(mem, "slab_unreclaimable");
  const SwapView swap = swap_view(host, mem);
  struct Value {
    std::string_view key;
    uint64_t kb;
  };
  // In key order (ASCII), for the binary search below.
  const Value values[] = {
      {"Active", stat_kb(mem, "active_anon") + stat_kb(mem, "active_file")},
      {"Active(anon)", stat_kb(mem, "active_anon")},
      {"Active(file)", stat_kb(mem, "active_file")},
      {"AnonHugePages", stat_kb(mem, "anon_thp")},
      {"AnonPages", stat_kb(mem, "anon")},
      {"Buffers", 0},
      {"Cached", stat_kb(mem, "file")},
      {"Dirty", stat_kb(mem, "file_dirty")},
      {"FileHugePages", stat_kb(mem, "file_thp")},
      {"Inactive", stat_kb(mem, "inactive_anon") + stat_kb(mem, "inactive_file")},
      {"Inactive(anon)", stat_kb(mem, "inactive_anon")},
      {"Inactive(file)", stat_kb(mem, "inactive_file")},
      {"KernelStack", stat_kb(mem, "kernel_stack")},
      {"Mapped", stat_kb(mem, "file_mapped")},
      {"MemAvailable", std::min(*total, free + file_lru + sreclaimable)},
      {"MemFree", free},
      {"MemTotal", *total},
      {"PageTables", stat_kb(mem, "pagetables")},
      {"SReclaimable", sreclaimable},
      {"SUnreclaim", sunreclaim},
      {"Shmem", stat_kb(mem, "shmem")},
      {"ShmemHugePages", stat_kb(mem, "shmem_thp")},
      {"Slab", sreclaimable + sunreclaim},
      {"SwapCached", stat_kb(mem, "swapcached")},
      {"SwapFree", swap.free_kb},
      {"SwapTotal", swap.total_kb},
      {"Unevictable", stat_kb(mem, "unevictable")},
      {"Writeback", stat_kb(mem, "file_writeback")},
  };
  auto by_key = [](const Value& a, const Value& b) { return a.key < b.key; };
  static const bool sorted = std::is_sorted(std::begin(values), std::end(values), by_key);
  if (!sorted) throw std::logic_error("render_meminfo: value table out of order");
  std::string out;
  out.reserve(host_meminfo.size());
  for (auto line : split(host_meminfo, '\n')) {
    auto colon = line.find(':');
    const Value* v = nullptr;
    if (colon != std::string_view::npos) {
      const Value probe{line.substr(0, colon), 0};
      auto it = std::lower_bound(std::begin(values), std::end(values), probe, by_key);
      if (it != std::end(values) && it->key == probe.key) v = &*it;
    }
    if (v == nullptr) {
      out += line;
    } else {
      append_kb_line(out, v->key, v->kb);
    }
    out += '\n';
  }
  return out;
}

std::string render_swaps(std::string_view host_swaps, std::string_view host_meminfo,
                         const MemoryReadings& mem) {
  const HostMemory host = host_memory(host_meminfo);
  SwapView swap = swap_view(host, mem);
  if (swap.host) return std::string(host_swaps);
  auto lines = split(host_swaps, '\n');
  std::string out = lines.empty() ? std::string("Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority")
                                  : std::string(lines[0]);
  out += '\n';
  if (swap.total_kb > 0) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%-40s%s\t%llu\t\t%llu\t\t%d\n", "none", "virtual",
                  static_cast<unsigned long long>(swap.total_kb),
                  static_cast<unsigned long long>(swap.total_kb - swap.free_kb), 0);
    out += buf;
  }
  return out;
}

namespace {

// The value after the colon of a "key\t: value" line whose key is `key`.
std::optional<std::string_view> cpuinfo_field(std::string_view line, std::string_view key) {
  auto colon = line.find(':');
  if (colon == std::string_view::npos || trim(line.substr(0, colon)) != key) return std::nullopt;
  return trim(line.substr(colon + 1));
}

struct CpuinfoBlock {
  std::string_view text;
  std::optional<uint64_t> processor;
  std::optional<std::string_view> package;  // "physical id"
  std::optional<std::string_view> core;     // "core id"
};

std::vector<CpuinfoBlock> cpuinfo_blocks(std::string_view text) {
  std::vector<CpuinfoBlock> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find("\n\n", pos);
    size_t next = end == std::string_view::npos ? text.size() : end + 2;
    CpuinfoBlock b;
    b.text = text.substr(pos, next - pos);
    pos = next;
    for (auto line : split(b.text, '\n')) {
      if (auto v = cpuinfo_field(line, "processor")) b.processor = parse_u64(*v);
      if (auto v = cpuinfo_field(line, "physical id")) b.package = v;
      if (auto v = cpuinfo_field(line, "core id")) b.core = v;
    }
    out.push_back(b);
  }
  return out;
}

// The block with "siblings" and "cpu cores" counting what is shown of its
// package: its logical CPUs, and their distinct core ids.
std::string recount_block(const CpuinfoBlock& b, const std::vector<CpuinfoBlock>& shown) {
  if (!b.package) return std::string(b.text);
  size_t siblings = 0;
  std::set<std::string_view> cores;
  for (const CpuinfoBlock& o : shown) {
    if (o.package != b.package) continue;
    ++siblings;
    if (o.core) cores.insert(*o.core);
  }
  std::string out;
  size_t pos = 0;
  while (pos < b.text.size()) {
    size_t nl = b.text.find('\n', pos);
    size_t next = nl == std::string_view::npos ? b.text.size() : nl + 1;
    std::string_view line = b.text.substr(pos, next - pos);
    pos = next;
    std::optional<size_t> count;
    if (cpuinfo_field(line, "siblings")) count = siblings;
    if (cpuinfo_field(line, "cpu cores") && !cores.empty()) count = cores.size();
    if (!count) {
      out += line;
      continue;
    }
    out += line.substr(0, line.find(':') + 1);
    out += " " + std::to_string(*count);
    if (line.back() == '\n') out += '\n';
  }
  return out;
}

}  // namespace

std::string render_cpuinfo(std::string_view host_cpuinfo, const std::vector<int>& visible) {
  std::set<int> vis(visible.begin(), visible.end());
  std::vector<CpuinfoBlock> shown;
  for (const CpuinfoBlock& b : cpuinfo_blocks(host_cpuinfo)) {
    // A block without a processor line (a trailer some architectures print) stays.
    if (!b.processor || vis.count(static_cast<int>(*b.processor))) shown.push_back(b);
  }
  std::string out;
  for (const CpuinfoBlock& b : shown) out += recount_block(b, shown);
  return out;
}

std::string render_stat(std::string_view host_stat, const std::map<int, CpuTimes>& times) {
  auto cpu_line = [](const std::string& name, const CpuTimes& t) {
    char buf[192];
    std::snprintf(buf, sizeof buf, "%s %llu 0 %llu %llu 0 0 0 0 0 0\n", name.c_str(),
                  static_cast<unsigned long long>(t.user),
                  static_cast<unsigned long long>(t.system),
                  static_cast<unsigned long long>(t.idle));
    return std::string(buf);
  };
  CpuTimes sum;
  for (const auto& [cpu, t] : times) {
    sum.user += t.user;
    sum.system += t.system;
    sum.idle += t.idle;
  }
  std::string out = cpu_line("cpu ", sum);
  for (const auto& [cpu, t] : times) out += cpu_line("cpu" + std::to_string(cpu), t);
  for (auto line : split(host_stat, '\n')) {
    if (line.substr(0, 3) == "cpu") continue;
    out += line;
    out += '\n';
  }
  return out;
}

std::string render_uptime(uint64_t age_ticks, const std::map<int, CpuTimes>& times) {
  uint64_t idle = 0;
  for (const auto& [cpu, t] : times) idle += t.idle;
  return ticks_to_seconds(age_ticks) + " " + ticks_to_seconds(idle) + "\n";
}

std::string render_online(const std::vector<int>& visible) {
  return format_cpu_list(visible) + "\n";
}

std::string render_diskstats(std::string_view host_diskstats, const IoReadings& io,
                             CounterState& state) {
  std::string out;
  for (auto line : split(host_diskstats, '\n')) {
    auto toks = split_ws(line);
    if (toks.size() < 14) {  // not a device line we understand: keep it
      out += line;
      out += '\n';
      continue;
    }
    std::string dev = std::string(toks[0]) + ":" + std::string(toks[1]);
    IoStat s;
    if (auto it = io.find(dev); it != io.end()) s = it->second;
    std::array<uint64_t, 6> now = {s.rios,         s.rbytes / 512, s.wios,
                                   s.wbytes / 512, s.dios,         s.dbytes / 512};
    auto& last = state.disk[dev];
    for (size_t i = 0; i < now.size(); ++i) now[i] = std::max(now[i], last[i]);
    last = now;
    // Field positions (1-based after the name) of the counters a cgroup has.
    std::map<size_t, uint64_t> at = {{1, now[0]}, {3, now[1]},  {5, now[2]},
                                     {7, now[3]}, {12, now[4]}, {14, now[5]}};
    char head[96];
    std::snprintf(head, sizeof head, "%4.*s %7.*s %.*s", static_cast<int>(toks[0].size()),
                  toks[0].data(), static_cast<int>(toks[1].size()), toks[1].data(),
                  static_cast<int>(toks[2].size()), toks[2].data());
    out += head;
    for (size_t f = 1; f + 2 < toks.size(); ++f) {
      auto it = at.find(f);
      out += ' ';
      out += std::to_string(it == at.end() ? 0 : it->second);
    }
    out += '\n';
  }
  return out;
}

std::string render_loadavg(const LoadAvg& load) {
  std::string out;
  for (uint64_t a : load.avg) {
    uint64_t x = a + kFixed1 / 200;  // the kernel rounds to two decimals this way
    char buf[48];
    std::snprintf(buf, sizeof buf, "%llu.%02llu ", static_cast<unsigned long long>(x >> kFshift),
                  static_cast<unsigned long long>(((x & (kFixed1 - 1)) * 100) >> kFshift));
    out += buf;
  }
  out += std::to_string(load.running) + "/" + std::to_string(load.total) + " " +
         std::to_string(load.last_pid) + "\n";
  return out;
}

uint64_t calc_load(uint64_t load, uint64_t exp, uint64_t active_fixed) {
  uint64_t next = load * exp + active_fixed * (kFixed1 - exp);
  if (active_fixed >= load) next += kFixed1 - 1;
  return next / kFixed1;
}

}  // namespace vproc::core
