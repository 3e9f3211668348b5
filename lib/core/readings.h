// Value structs passed between the cgroup reader (I/O) and the renderers
// (pure). Field names follow the cgroup v2 kernel names; the v1 parsers map
// onto them, so nothing past the parsers knows which cgroup version it was.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace vproc::core {

// Clock ticks of /proc/stat, /proc/<pid>/stat and /proc/uptime (USER_HZ).
// Linux fixes USER_HZ at 100 on every architecture vproc targets.
inline constexpr uint64_t kUserHz = 100;
inline constexpr uint64_t kNsPerTick = 1'000'000'000 / kUserHz;

// "key value" files (memory.stat, cpu.stat), by key; looked up by string_view
// or C string without building a std::string.
using KeyedValues = std::map<std::string, uint64_t, std::less<>>;

struct MemoryReadings {
  std::optional<uint64_t> max;       // effective limit in bytes; nullopt = none
  uint64_t current = 0;              // usage in bytes, page cache included
  std::optional<uint64_t> swap_max;  // effective swap limit in bytes; nullopt = none
  uint64_t swap_current = 0;         // swap in use, bytes (read only under a swap limit)
  KeyedValues stat;                  // memory.stat, v2 key names, bytes
};

struct CpuUsage {
  uint64_t user_ns = 0;
  uint64_t system_ns = 0;
};

struct CpuReadings {
  // Per-CPU split keyed by CPU id (v1 cpuacct); empty when the kernel keeps
  // only a total (v2 cpu.stat), in which case the total is spread evenly.
  std::map<int, CpuUsage> per_cpu;
  CpuUsage total;
};

struct CpuQuota {
  uint64_t quota_us = 0;
  uint64_t period_us = 0;
};

struct CpuLimits {
  std::optional<std::vector<int>> cpuset;  // effective cpus; nullopt = unrestricted
  std::optional<CpuQuota> quota;           // tightest quota on the path; nullopt = none
};

// One device's I/O counters from v2 io.stat (v1 blkio maps onto it).
struct IoStat {
  uint64_t rbytes = 0, wbytes = 0, rios = 0, wios = 0, dbytes = 0, dios = 0;
};
using IoReadings = std::map<std::string, IoStat>;  // key "MAJ:MIN"

enum class CpuView { kQuota, kCpuset };

// Per-container memory of what was last shown, so counters never go back.
struct CpuTimes {
  uint64_t user = 0, system = 0, idle = 0;  // ticks
};
struct CounterState {
  std::map<int, CpuTimes> cpu;                          // by CPU id
  std::map<std::string, std::array<uint64_t, 6>> disk;  // by "MAJ:MIN"
  uint64_t uptime_ticks = 0;
};

// Kernel-style fixed-point load averages (FSHIFT 11).
struct LoadAvg {
  std::array<uint64_t, 3> avg{};  // 1, 5, 15 minutes
  unsigned running = 0;
  unsigned total = 0;
  long last_pid = 0;
};

}  // namespace vproc::core
