// v1 cpuacct.usage_all and cpuacct.usage_percpu into cpu_times, render_stat
// and render_uptime (fixed host /proc/stat).
// Input: usage_all \0 usage_percpu \0 8 bytes of container age in ticks.
#include <cstring>

#include "lib/base/sys_error.h"
#include "lib/core/parse.h"
#include "lib/core/render.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/fuzz/host_text.h"

using namespace vproc::core;

namespace {

void render_checked(const CpuReadings& usage, const std::vector<int>& visible, uint64_t age) {
  CounterState state;
  auto first = cpu_times(usage, visible, age, state);
  FUZZ_CHECK(first.size() == visible.size());
  // Counters never go back, whatever the next reading says.
  auto second = cpu_times(CpuReadings{}, visible, age / 2, state);
  for (const auto& [cpu, t] : first) {
    const CpuTimes& u = second.at(cpu);
    FUZZ_CHECK(u.user >= t.user && u.system >= t.system && u.idle >= t.idle);
  }
  auto stat = render_stat(vproc::fuzz::kHostStat, first);
  FUZZ_CHECK(stat.compare(0, 4, "cpu ") == 0);
  auto uptime = render_uptime(age, first);
  FUZZ_CHECK(parse_uptime_ticks(uptime, "uptime") == age);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto p = vproc::fuzz::parts(data, size, 3);
  uint64_t age = 0;
  if (!p[2].empty()) std::memcpy(&age, p[2].data(), std::min(p[2].size(), sizeof age));
  CpuReadings usage;
  try {
    usage.per_cpu = parse_cpuacct_usage_all(p[0], "cpuacct.usage_all");
  } catch (const vproc::SysError&) {
  }
  try {
    auto percpu = parse_cpuacct_usage_percpu(p[1], "cpuacct.usage_percpu");
    for (uint64_t ns : percpu) usage.total.user_ns += ns;
  } catch (const vproc::SysError&) {
  }
  for (const auto& [cpu, u] : usage.per_cpu) {
    FUZZ_CHECK(cpu >= 0 && cpu <= 65535);
  }
  render_checked(usage, {0, 1, 2, 3}, age);
  render_checked(usage, {2}, age);
  usage.per_cpu.clear();
  render_checked(usage, {1, 3}, age);
  return 0;
}
