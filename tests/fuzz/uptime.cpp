// /proc/uptime: parse_uptime_ticks, and render_uptime's output parsed back.
#include "lib/base/sys_error.h"
#include "lib/core/parse.h"
#include "lib/core/render.h"
#include "tests/fuzz/fuzz_util.h"

using namespace vproc::core;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  uint64_t ticks = 0;
  try {
    ticks = parse_uptime_ticks(vproc::fuzz::text(data, size), "uptime");
  } catch (const vproc::SysError&) {
    return 0;
  }
  std::map<int, CpuTimes> times = {{0, {1, 2, ticks / 2}}, {1, {3, 4, ticks / 3}}};
  FUZZ_CHECK(parse_uptime_ticks(render_uptime(ticks, times), "rendered") == ticks);
  return 0;
}
