// The bundle's config.json (written by whoever builds the container):
// hook::parse_config, then make_plan with a fixed state, which resolves
// root.path and reads the vproc.io/* annotations (parse_files_list). The raw
// input also goes to parse_files_list, as an annotation value.
#include "hook/plan.h"
#include "tests/fuzz/fuzz_util.h"

using namespace vproc;

namespace {

constexpr const char* kMountpoint = "/var/lib/vproc";

void check_plan(const hook::Plan& plan) {
  if (!plan.inject) {
    FUZZ_CHECK(!plan.why_not.empty());
    return;
  }
  const std::string& r = plan.rootfs;
  // Absolute, normalised: no "." or ".." step, no empty step, no trailing '/'.
  FUZZ_CHECK(!r.empty() && r[0] == '/');
  FUZZ_CHECK(r == "/" || r.back() != '/');
  FUZZ_CHECK(r.find("//") == std::string::npos);
  FUZZ_CHECK(r.find("/../") == std::string::npos && r.find("/./") == std::string::npos);
  FUZZ_CHECK(r.size() < 3 ||
             (r.compare(r.size() - 3, 3, "/..") != 0 && r.compare(r.size() - 2, 2, "/.") != 0));
  FUZZ_CHECK(!plan.files.empty() && plan.files.size() <= injectable_files().size());
  for (const auto& f : plan.files) {
    FUZZ_CHECK(f.source.rfind(std::string(kMountpoint) + "/", 0) == 0);
    FUZZ_CHECK(!f.target.empty() && f.target[0] != '/');
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in = fuzz::text(data, size);
  try {
    auto names = hook::parse_files_list(in);
    FUZZ_CHECK(!names.empty() && names.size() <= injectable_files().size());
  } catch (const InputError&) {
  }
  hook::Config c;
  try {
    c = hook::parse_config(in);
  } catch (const InputError&) {
    return 0;
  }
  FUZZ_CHECK(!c.root_path.empty());
  hook::State s;
  s.id = "c1";
  s.pid = 4242;
  s.status = "created";
  for (const char* bundle : {"/run/containers/c1/userdata", "", "relative/bundle", "/"}) {
    s.bundle = bundle;
    try {
      check_plan(hook::make_plan(s, c, kMountpoint));
    } catch (const InputError&) {
    }
  }
  return 0;
}
