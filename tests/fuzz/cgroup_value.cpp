// Single-value cgroup files: memory.max / memory.limit_in_bytes /
// memory.swap.max (parse_limit), cpu.max (parse_cpu_max), memory.current and
// cpu.cfs_period_us (parse_number), cpu.cfs_quota_us (parse_signed).
// The whole input is given to each parser.
#include <limits>

#include "lib/base/io.h"
#include "lib/base/sys_error.h"
#include "lib/core/parse.h"
#include "tests/fuzz/fuzz_util.h"

using namespace vproc::core;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in = vproc::fuzz::text(data, size);
  std::optional<uint64_t> number;
  try {
    number = parse_number(in, "memory.current");
    FUZZ_CHECK(number == vproc::parse_u64(vproc::trim(in)));
  } catch (const vproc::SysError&) {
  }
  try {
    auto limit = parse_limit(in, "memory.max");
    // A number is a limit below v1's "unlimited" value, and nothing else.
    if (number) {
      FUZZ_CHECK(limit == (*number < 9223372036854771712ULL ? number : std::nullopt));
    }
  } catch (const vproc::SysError&) {
    FUZZ_CHECK(!number);
  }
  try {
    auto s = parse_signed(in, "cpu.cfs_quota_us");
    if (s) FUZZ_CHECK(*s >= 0);
    if (number && *number <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      FUZZ_CHECK(s == static_cast<int64_t>(*number));
    }
  } catch (const vproc::SysError&) {
  }
  try {
    auto q = parse_cpu_max(in, "cpu.max");
    if (q) FUZZ_CHECK(q->period_us > 0);
  } catch (const vproc::SysError&) {
  }
  return 0;
}
