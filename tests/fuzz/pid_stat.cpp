// /proc/<pid>/stat: parse_pid_stat (vprocd: a reader's init, its start time
// for pid-reuse checks, task states for loadavg). With VPROC_FUZZ_HOOK, also
// differential against the hook's parse_start_time (the start time in its
// registry records): two parsers of field 22 must agree on the same line.
#include "lib/base/sys_error.h"
#include "lib/core/parse.h"
#include "tests/fuzz/fuzz_util.h"
#ifdef VPROC_FUZZ_HOOK
#include "lib/registry/registry.h"
#endif

using namespace vproc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in = fuzz::text(data, size);
  std::optional<core::PidStat> s;
  try {
    s = core::parse_pid_stat(in, "stat");
  } catch (const SysError&) {
  }
  if (s) FUZZ_CHECK(s->state != ' ' && s->state != '\t' && s->state != '\n');
#ifdef VPROC_FUZZ_HOOK
  auto hook = parse_start_time(in);
  // The kernel writes one line of space-separated fields; the two parsers
  // split differently only on tabs and newlines inside it.
  std::string_view line = in;
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (s && line.find_first_of("\t\n") == std::string_view::npos) {
    FUZZ_CHECK(hook == s->starttime);
  }
#endif
  return 0;
}
