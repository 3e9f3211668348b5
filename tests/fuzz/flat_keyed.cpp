// "key value" cgroup files: memory.stat (v1 and v2) and cpu.stat, through
// parse_flat_keyed and v1_memory_stat_to_v2 into render_meminfo and
// render_swaps (fixed host text, the fuzzed memory.stat as the readings).
#include "lib/base/sys_error.h"
#include "lib/core/parse.h"
#include "lib/core/render.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/fuzz/host_text.h"

using namespace vproc::core;

namespace {

void render_checked(MemoryReadings mem) {
  mem.max = 512ULL << 20;
  mem.current = 256ULL << 20;
  mem.swap_max = 1ULL << 30;
  mem.swap_current = 1ULL << 20;
  // The host text is well formed, so the rendered file must parse too.
  auto lines = parse_meminfo(render_meminfo(vproc::fuzz::kHostMeminfo, mem), "rendered");
  auto total = meminfo_value(lines, "MemTotal");
  FUZZ_CHECK(total == 512u * 1024);
  FUZZ_CHECK(meminfo_value(lines, "MemFree") <= total);
  FUZZ_CHECK(meminfo_value(lines, "MemAvailable") <= total);
  FUZZ_CHECK(meminfo_value(lines, "SwapFree") <= meminfo_value(lines, "SwapTotal"));
  render_swaps(vproc::fuzz::kHostSwaps, vproc::fuzz::kHostMeminfo, mem);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vproc::core::KeyedValues stat;
  try {
    stat = parse_flat_keyed(vproc::fuzz::text(data, size), "memory.stat");
  } catch (const vproc::SysError&) {
    return 0;
  }
  MemoryReadings v2;
  v2.stat = stat;
  render_checked(v2);
  MemoryReadings v1;
  v1.stat = v1_memory_stat_to_v2(stat);
  FUZZ_CHECK(v1.stat.size() <= stat.size());
  render_checked(v1);
  return 0;
}
