// Host /proc/cpuinfo through render_cpuinfo. Input: the first byte gives the
// number of visible CPUs (mod 9), the next that many bytes their ids; the
// rest is the host text.
#include "lib/core/render.h"
#include "tests/fuzz/fuzz_util.h"

using namespace vproc::core;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t n = std::min<size_t>(data[0] % 9, size - 1);
  std::vector<int> visible(data + 1, data + 1 + n);
  std::string_view host = vproc::fuzz::text(data + 1 + n, size - 1 - n);
  auto out = render_cpuinfo(host, visible);
  // Whole blocks are dropped, nothing is added: the output is the host text
  // with some blocks removed, in order.
  FUZZ_CHECK(out.size() <= host.size());
  size_t at = 0;
  for (char c : out) {
    at = host.find(c, at);
    FUZZ_CHECK(at != std::string_view::npos);
    ++at;
  }
  // Blocks without a processor line are kept.
  if (host.find("processor") == std::string_view::npos) FUZZ_CHECK(out == host);
  return 0;
}
