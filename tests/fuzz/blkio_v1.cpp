// v1 blkio.throttle.io_service_bytes_recursive and io_serviced_recursive
// (parse_blkio_v1) into render_diskstats with fixed host text.
// Input: service_bytes \0 serviced.
#include "lib/base/sys_error.h"
#include "lib/core/parse.h"
#include "lib/core/render.h"
#include "lib/core/text.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/fuzz/host_text.h"

using namespace vproc::core;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto p = vproc::fuzz::parts(data, size, 2);
  IoReadings io;
  try {
    io = parse_blkio_v1(p[0], p[1], "blkio");
  } catch (const vproc::SysError&) {
    return 0;
  }
  CounterState state;
  std::string_view host = vproc::fuzz::kHostDiskstats;
  auto first = render_diskstats(host, io, state);
  FUZZ_CHECK(split(first, '\n').size() == split(host, '\n').size());
  FUZZ_CHECK(render_diskstats(host, IoReadings{}, state) == first);
  return 0;
}
