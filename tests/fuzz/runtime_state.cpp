// The runtimes' state files that `vproc-hook attach` reads: runc's state.json
// (hook::parse_runc_state, with the labels split by hook::split_runc_labels)
// and crun's status (hook::parse_crun_status). The same input goes to both.
#include "hook/plan.h"
#include "hook/runtimes.h"
#include "tests/fuzz/fuzz_util.h"

using namespace vproc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in = fuzz::text(data, size);
  try {
    hook::RuntimeContainer c = hook::parse_runc_state(in, "dir", "state.json");
    // A pid that /proc could name; the id is the state's or the directory's.
    FUZZ_CHECK(c.pid > 0 && c.pid <= (1 << 22));
    FUZZ_CHECK(!c.id.empty());
    FUZZ_CHECK(c.runtime == "runc");
  } catch (const InputError&) {
  }
  try {
    hook::RuntimeContainer c = hook::parse_crun_status(in, "dir", "status");
    FUZZ_CHECK(c.pid > 0 && c.pid <= (1 << 22));
    FUZZ_CHECK(c.id == "dir");
  } catch (const InputError&) {
  }
  return 0;
}
