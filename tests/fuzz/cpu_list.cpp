// cpuset.cpus.effective / cpuset.effective_cpus / the host's online list:
// parse_cpu_list, format_cpu_list, visible_cpus, render_online.
// Input: host online list \0 cpuset list \0 cpu.max text.
#include <algorithm>
#include <set>

#include "lib/base/sys_error.h"
#include "lib/core/parse.h"
#include "lib/core/render.h"
#include "tests/fuzz/fuzz_util.h"

using namespace vproc::core;

namespace {

// Parses a list and checks what parse_cpu_list promises: sorted, unique ids
// in 0..65535, and format_cpu_list gives text that parses to the same list.
std::optional<std::vector<int>> cpu_list(std::string_view text) {
  std::vector<int> cpus;
  try {
    cpus = parse_cpu_list(text);
  } catch (const vproc::SysError&) {
    return std::nullopt;
  }
  FUZZ_CHECK(std::is_sorted(cpus.begin(), cpus.end()));
  FUZZ_CHECK(std::adjacent_find(cpus.begin(), cpus.end()) == cpus.end());
  FUZZ_CHECK(cpus.empty() || (cpus.front() >= 0 && cpus.back() <= 65535));
  FUZZ_CHECK(parse_cpu_list(format_cpu_list(cpus)) == cpus);
  return cpus;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto p = vproc::fuzz::parts(data, size, 3);
  auto online = cpu_list(p[0]);
  auto cpuset = cpu_list(p[1]);
  if (!online) return 0;
  CpuLimits limits;
  limits.cpuset = cpuset;
  try {
    limits.quota = parse_cpu_max(p[2], "cpu.max");
  } catch (const vproc::SysError&) {
  }
  std::set<int> host(online->begin(), online->end());
  for (CpuView view : {CpuView::kQuota, CpuView::kCpuset}) {
    auto vis = visible_cpus(*online, limits, view);
    // A reader sees only online CPUs, and at least one when the host has any.
    FUZZ_CHECK(vis.empty() == online->empty());
    for (int c : vis) FUZZ_CHECK(host.count(c) == 1);
    FUZZ_CHECK(cpu_list(render_online(vis)) == vis);
  }
  return 0;
}
