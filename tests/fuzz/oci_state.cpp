// OCI state JSON (the hook's stdin, written by the runtime from the
// container's config): hook::parse_state and hook::peek_id, then make_plan
// with a fixed config.json.
#include "hook/plan.h"
#include "lib/registry/registry.h"
#include "tests/fuzz/fuzz_util.h"

using namespace vproc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in = fuzz::text(data, size);
  std::string peeked = hook::peek_id(in);
  if (!peeked.empty()) FUZZ_CHECK(valid_container_id(peeked));
  hook::State s;
  try {
    s = hook::parse_state(in);
  } catch (const InputError&) {
    return 0;
  }
  // The id that names the registry file is the one log lines show.
  FUZZ_CHECK(valid_container_id(s.id));
  FUZZ_CHECK(peeked == s.id);
  FUZZ_CHECK(s.pid >= 0);
  hook::Config c;
  c.root_path = "rootfs";
  try {
    auto plan = hook::make_plan(s, c, "/var/lib/vproc/");
    if (plan.inject) {
      FUZZ_CHECK(!plan.rootfs.empty() && plan.rootfs[0] == '/');
      FUZZ_CHECK(!plan.files.empty());
    } else {
      FUZZ_CHECK(!plan.why_not.empty());
    }
  } catch (const InputError&) {
  }
  return 0;
}
