// /proc/<pid>/stat: parse_pid_stat, the one parser of it (vprocd: a reader's
// init, its start time for pid-reuse checks, task states for loadavg; the
// registry's process identity reads its start time through the same code).
#include "lib/base/io.h"
#include "lib/base/sys_error.h"
#include "lib/core/parse.h"
#include "tests/fuzz/fuzz_util.h"

using namespace vproc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in = fuzz::text(data, size);
  std::optional<core::PidStat> s;
  try {
    s = core::parse_pid_stat(in, "stat");
  } catch (const SysError&) {
  }
  // The throwing and the optional form are one parser: they agree.
  std::optional<core::PidStat> t = core::try_parse_pid_stat(in);
  FUZZ_CHECK(s.has_value() == t.has_value());
  if (s) {
    FUZZ_CHECK(!is_space(s->state));
    FUZZ_CHECK(s->ppid >= 0);
    FUZZ_CHECK(s->starttime == t->starttime && s->state == t->state && s->ppid == t->ppid);
  }
  return 0;
}
