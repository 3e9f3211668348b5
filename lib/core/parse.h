// Parsers for the text of kernel files. Each takes the file's bytes and
// returns values; malformed input throws vproc::SysError (EINVAL) naming the
// file, absent values are std::nullopt. No I/O here.
//
// Units: cgroup memory files are bytes; cpuacct is nanoseconds; v2 cpu.stat
// is microseconds; cpu.cfs_* and cpu.max are microseconds; /proc/meminfo is kB.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lib/core/readings.h"

namespace vproc::core {

// "0-3,5,7-8" -> {0,1,2,3,5,7,8}. Empty text -> {}.
std::vector<int> parse_cpu_list(std::string_view text);
std::string format_cpu_list(const std::vector<int>& cpus);
// The online CPUs of a /proc/stat text: it has a cpuN line for each.
std::vector<int> online_cpus_of_stat(std::string_view proc_stat);

// A memory limit file: "max", "-1" and v1's 9223372036854771712 (and anything
// at or above it) mean no limit.
std::optional<uint64_t> parse_limit(std::string_view text, const std::string& file);
// v1 reports "no limit" as PAGE_COUNTER_MAX * PAGE_SIZE rounded: 9223372036854771712
// (in limit files and in memory.stat's hierarchical_*_limit).
constexpr uint64_t kV1Unlimited = 9223372036854771712ULL;
// v2 cpu.max: "max 100000" or "50000 100000".
std::optional<CpuQuota> parse_cpu_max(std::string_view text, const std::string& file);
// A single unsigned number (e.g. memory.current); v1 cfs_quota_us may be -1.
uint64_t parse_number(std::string_view text, const std::string& file);
std::optional<int64_t> parse_signed(std::string_view text, const std::string& file);

// "key value" lines (memory.stat, cpu.stat). Exact keys; unparsable lines throw.
KeyedValues parse_flat_keyed(std::string_view text, const std::string& file);
// v1 memory.stat -> v2 names, using the hierarchical total_* keys.
KeyedValues v1_memory_stat_to_v2(const KeyedValues& v1);
// The same, keeping only `keys` (every line is still checked).
KeyedValues parse_flat_keyed(std::string_view text, const std::string& file,
                             std::span<const std::string_view> keys);
// What vprocd reads from a v1 memory.stat: the total_* keys
// v1_memory_stat_to_v2 maps and the hierarchical limits.
std::span<const std::string_view> v1_memory_stat_keys();

// v1 cpuacct.usage_all: "cpu user system" header then one line per CPU (ns).
std::map<int, CpuUsage> parse_cpuacct_usage_all(std::string_view text, const std::string& file);
// v1 cpuacct.usage_percpu: space separated ns totals, CPU 0 first.
std::vector<uint64_t> parse_cpuacct_usage_percpu(std::string_view text, const std::string& file);

// v2 io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=5 dios=6".
IoReadings parse_io_stat(std::string_view text, const std::string& file);
// v1 blkio.throttle.io_service_bytes_recursive + io_serviced_recursive.
IoReadings parse_blkio_v1(std::string_view bytes, std::string_view serviced,
                          const std::string& file);

// /proc/<pid>/cgroup: v1 controller -> path, and the v2 ("0::") path.
struct ProcCgroup {
  std::map<std::string, std::string> v1;  // "memory" -> "/a/b"; named hierarchies skipped
  std::optional<std::string> unified;
};
ProcCgroup parse_proc_cgroup(std::string_view text, const std::string& file);

// /proc/<pid>/stat, the one parser of it: state (field 3), ppid (field 4; 0
// when negative) and start time (field 22, clock ticks since boot), counted
// after the last ')' since the command name may hold spaces and parentheses.
struct PidStat {
  char state = '?';
  long ppid = 0;
  uint64_t starttime = 0;
};
// nullopt when the text breaks that format.
std::optional<PidStat> try_parse_pid_stat(std::string_view text);
// The same; malformed text throws SysError (EINVAL) naming file.
PidStat parse_pid_stat(std::string_view text, const std::string& file);

// /proc/uptime first field in ticks (centiseconds).
uint64_t parse_uptime_ticks(std::string_view text, const std::string& file);

// /proc/meminfo lines in order.
struct MeminfoLine {
  std::string key;
  uint64_t value = 0;
  bool kb = true;  // the line carries a " kB" unit
};
std::vector<MeminfoLine> parse_meminfo(std::string_view text, const std::string& file);
// The same checks, calling line_fn(key, value, kb) for each line instead.
void scan_meminfo(std::string_view text, const std::string& file,
                  const std::function<void(std::string_view, uint64_t, bool)>& line_fn);
std::optional<uint64_t> meminfo_value(const std::vector<MeminfoLine>& lines, std::string_view key);

}  // namespace vproc::core
