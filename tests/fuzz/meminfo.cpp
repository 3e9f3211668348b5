// Host /proc/meminfo (the fuzz input) through parse_meminfo, render_meminfo
// and render_swaps with fixed readings: limited, unlimited, swap-limited,
// usage over the limit. Also the fuzz input as the host's /proc/swaps.
#include "lib/base/sys_error.h"
#include "lib/core/parse.h"
#include "lib/core/render.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/fuzz/host_text.h"

using namespace vproc::core;

namespace {

MemoryReadings readings(std::optional<uint64_t> max, uint64_t current,
                        std::optional<uint64_t> swap_max) {
  MemoryReadings m;
  m.max = max;
  m.current = current;
  m.swap_max = swap_max;
  m.swap_current = 64ULL << 20;
  m.stat = {{"anon", 100ULL << 20},
            {"file", 50ULL << 20},
            {"active_file", 20ULL << 20},
            {"inactive_file", 30ULL << 20},
            {"slab_reclaimable", 1ULL << 20}};
  return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in = vproc::fuzz::text(data, size);
  const MemoryReadings cases[] = {
      readings(512ULL << 20, 256ULL << 20, std::nullopt),
      readings(std::nullopt, 256ULL << 20, std::nullopt),
      readings(1ULL << 30, 2ULL << 30, 0),
      readings(64ULL << 20, 1ULL << 20, 128ULL << 20),
  };
  for (const auto& mem : cases) {
    // As the host's swaps: only the first line is kept when swap is limited.
    render_swaps(in, vproc::fuzz::kHostMeminfo, mem);
  }
  std::vector<MeminfoLine> host;
  try {
    host = parse_meminfo(in, "meminfo");
  } catch (const vproc::SysError&) {
    for (const auto& mem : cases) {
      FUZZ_CHECK(vproc::fuzz::rejected([&] { render_meminfo(in, mem); }));
      FUZZ_CHECK(vproc::fuzz::rejected([&] { render_swaps(vproc::fuzz::kHostSwaps, in, mem); }));
    }
    return 0;
  }
  auto host_total = meminfo_value(host, "MemTotal");
  for (const auto& mem : cases) {
    auto out = parse_meminfo(render_meminfo(in, mem), "rendered");
    // A container never sees more memory than the host has.
    auto total = meminfo_value(out, "MemTotal");
    if (host_total && *host_total > 0) FUZZ_CHECK(total <= host_total);
    render_swaps(vproc::fuzz::kHostSwaps, in, mem);
  }
  return 0;
}
