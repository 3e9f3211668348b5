// Host /proc/diskstats (the fuzz input) through render_diskstats with fixed
// I/O readings, twice with the same counter state.
#include "lib/core/render.h"
#include "lib/core/text.h"
#include "tests/fuzz/fuzz_util.h"

using namespace vproc::core;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view host = vproc::fuzz::text(data, size);
  IoReadings io;
  io["8:0"] = IoStat{4096, 8192, 1, 2, 512, 1};
  io["7:0"] = IoStat{1, 2, 3, 4, 5, 6};
  CounterState state;
  auto first = render_diskstats(host, io, state);
  FUZZ_CHECK(split(first, '\n').size() == split(host, '\n').size());
  FUZZ_CHECK(render_diskstats(host, IoReadings{}, state) == first);
  return 0;
}
