// The hook's registry records (/run/vproc/containers/<id>.json):
// parse_entry, render_entry round trip, and parse_start_time on the raw
// input as a /proc/<pid>/stat line.
#include "hook/plan.h"
#include "lib/registry/registry.h"
#include "tests/fuzz/fuzz_util.h"

using namespace vproc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in = fuzz::text(data, size);
  parse_start_time(in);
  RegistryEntry e;
  try {
    e = parse_entry(in);
  } catch (const InputError&) {
    return 0;
  }
  // What parse_entry accepts, render_entry writes back to the same record.
  auto again = parse_entry(render_entry(e));
  FUZZ_CHECK(again.id == e.id && again.pid == e.pid);
  FUZZ_CHECK(again.pid_start_time == e.pid_start_time && again.mnt_ns == e.mnt_ns);
  FUZZ_CHECK(again.rootfs == e.rootfs && again.mountpoint == e.mountpoint);
  FUZZ_CHECK(again.files == e.files && again.attached_at == e.attached_at);
  return 0;
}
