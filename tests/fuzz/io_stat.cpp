// v2 io.stat (parse_io_stat) into render_diskstats with fixed host text.
#include "lib/base/sys_error.h"
#include "lib/core/parse.h"
#include "lib/core/render.h"
#include "lib/core/text.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/fuzz/host_text.h"

using namespace vproc::core;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  IoReadings io;
  try {
    io = parse_io_stat(vproc::fuzz::text(data, size), "io.stat");
  } catch (const vproc::SysError&) {
    return 0;
  }
  CounterState state;
  std::string_view host = vproc::fuzz::kHostDiskstats;
  auto first = render_diskstats(host, io, state);
  // One line out per host line; the same readings again render the same file.
  FUZZ_CHECK(split(first, '\n').size() == split(host, '\n').size());
  FUZZ_CHECK(render_diskstats(host, io, state) == first);
  FUZZ_CHECK(render_diskstats(host, IoReadings{}, state) == first);
  return 0;
}
