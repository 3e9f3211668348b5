// Host /proc/cpuinfo through render_cpuinfo. Input: the first byte gives the
// number of visible CPUs (mod 9), the next that many bytes their ids; the
// rest is the host text.
#include <string>

#include "lib/base/io.h"
#include "lib/core/render.h"
#include "tests/fuzz/fuzz_util.h"

using namespace vproc::core;

namespace {

// The key of a "key : value" line, trimmed; "" without a colon.
std::string_view key_of(std::string_view line) {
  size_t colon = line.find(':');
  return colon == std::string_view::npos ? std::string_view() : vproc::trim(line.substr(0, colon));
}

bool recounted(std::string_view key) { return key == "siblings" || key == "cpu cores"; }

// The text without its "siblings" and "cpu cores" lines (the ones render_cpuinfo recounts).
std::string without_counts(std::string_view text) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    size_t next = nl == std::string_view::npos ? text.size() : nl + 1;
    std::string_view line = text.substr(pos, next - pos);
    if (!recounted(key_of(line))) out += line;
    pos = next;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t n = std::min<size_t>(data[0] % 9, size - 1);
  std::vector<int> visible(data + 1, data + 1 + n);
  std::string_view host = vproc::fuzz::text(data + 1 + n, size - 1 - n);
  auto out = render_cpuinfo(host, visible);
  // Whole blocks are dropped, nothing is added, and only the values of
  // "siblings" and "cpu cores" change: without those lines, the output is the
  // host text with some blocks removed, in order.
  const std::string h = without_counts(host), o = without_counts(out);
  FUZZ_CHECK(o.size() <= h.size());
  size_t at = 0;
  for (char c : o) {
    at = h.find(c, at);
    FUZZ_CHECK(at != std::string::npos);
    ++at;
  }
  // Blocks without a processor line are kept.
  if (host.find("processor") == std::string_view::npos) FUZZ_CHECK(o == h);
  return 0;
}
