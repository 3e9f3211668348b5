// Host /proc/stat through render_stat (its cpu lines replaced by the
// reader's) with fixed per-CPU times.
#include "lib/core/render.h"
#include "lib/core/text.h"
#include "tests/fuzz/fuzz_util.h"

using namespace vproc::core;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view host = vproc::fuzz::text(data, size);
  const std::map<int, CpuTimes> times = {{0, {100, 50, 1000}}, {2, {7, 8, 9}}};
  auto out = render_stat(host, times);
  size_t cpu_lines = 0, host_other = 0;
  for (auto line : split(out, '\n')) cpu_lines += line.substr(0, 3) == "cpu";
  for (auto line : split(host, '\n')) host_other += line.substr(0, 3) != "cpu";
  // Exactly the aggregate line and one per visible CPU; the rest is the host's.
  FUZZ_CHECK(cpu_lines == 1 + times.size());
  FUZZ_CHECK(split(out, '\n').size() == 1 + times.size() + host_other);
  return 0;
}
