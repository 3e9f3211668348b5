// Renderers: host file text + a reader's readings -> the file that reader
// sees. Pure functions; the rules are those of docs/files.md. Lines the
// cgroup cannot know are copied from the host's file byte for byte.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "lib/core/readings.h"

namespace vproc::core {

// The CPU ids a reader sees: the cpuset's ids that the host has online (all
// host CPUs without a cpuset); with the quota view, only the first
// ceil(quota/period) of them (at least one).
std::vector<int> visible_cpus(const std::vector<int>& host_online, const CpuLimits& limits,
                              CpuView view);

// Per visible CPU user/system/idle ticks. Usage on CPUs the reader does not
// see is folded evenly into the visible ones; without a per-CPU split the
// total is spread evenly. Idle = age - busy (>= 0). Every value is clamped to
// what `state` last showed, so nothing ever decreases.
std::map<int, CpuTimes> cpu_times(const CpuReadings& usage, const std::vector<int>& visible,
                                  uint64_t age_ticks, CounterState& state);

std::string render_meminfo(std::string_view host_meminfo, const MemoryReadings& mem);
std::string render_swaps(std::string_view host_swaps, std::string_view host_meminfo,
                         const MemoryReadings& mem);
std::string render_cpuinfo(std::string_view host_cpuinfo, const std::vector<int>& visible);
std::string render_stat(std::string_view host_stat, const std::map<int, CpuTimes>& times);
std::string render_uptime(uint64_t age_ticks, const std::map<int, CpuTimes>& times);
std::string render_online(const std::vector<int>& visible);
std::string render_diskstats(std::string_view host_diskstats, const IoReadings& io,
                             CounterState& state);
std::string render_loadavg(const LoadAvg& load);

// The kernel's calc_load(): one step of the exponential average, FSHIFT 11.
inline constexpr uint64_t kFshift = 11;
inline constexpr uint64_t kFixed1 = 1ULL << kFshift;
inline constexpr std::array<uint64_t, 3> kLoadExp = {1884, 2014, 2037};  // 1, 5, 15 min at 5 s
uint64_t calc_load(uint64_t load, uint64_t exp, uint64_t active_fixed);

}  // namespace vproc::core
