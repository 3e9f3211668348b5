// Adding vproc-hook to config.json (runtime/config_edit.h).
#include "runtime/config_edit.h"

#include <doctest/doctest.h>

#include "lib/base/sys_error.h"

using namespace vproc;
using namespace vproc::runtime;
using nlohmann::ordered_json;

namespace {

const HookSpec kSpec{"/usr/libexec/vproc/vproc-hook", {"--mountpoint=/x"}};

// A config.json as Docker writes it, shortened, with a hook of its own.
const char* kConfig = R"({"ociVersion":"1.0.2","process":{"user":{"uid":0,"gid":0},
  "args":["sh"],"env":["PATH=/usr/bin","HOSTNAME=c1"],"cwd":"/"},
  "root":{"path":"/var/lib/docker/overlay2/abc/merged"},"hostname":"c1",
  "hooks":{"prestart":[{"path":"/usr/bin/dockerd","args":["libnetwork-setkey","-exec-root=/run/docker","c1"]}]},
  "linux":{"resources":{"memory":{"limit":268435456,"swap":-1},"cpu":{"shares":1024,"quota":-1}},
  "cgroupsPath":"system.slice:docker:c1"},"zz":1.5,"aa":[true,null]})";

ordered_json edited(const std::string& text, EditOutcome want = EditOutcome::kEdited) {
  EditResult r = edit_config(text, kSpec, "/b/config.json");
  REQUIRE(r.outcome == want);
  return ordered_json::parse(r.text);
}

}  // namespace

TEST_CASE("config: adds vproc-hook at createRuntime and poststop") {
  ordered_json c = edited(kConfig);
  REQUIRE(c["hooks"]["createRuntime"].size() == 1);
  CHECK(
      c["hooks"]["createRuntime"][0].dump() ==
      R"({"path":"/usr/libexec/vproc/vproc-hook","args":["vproc-hook","create","--mountpoint=/x"]})");
  REQUIRE(c["hooks"]["poststop"].size() == 1);
  CHECK(c["hooks"]["poststop"][0] == hook_entry(kSpec, "poststop"));
  CHECK(c["hooks"]["poststop"][0]["args"] ==
        ordered_json::array({"vproc-hook", "poststop", "--mountpoint=/x"}));
}

TEST_CASE("config: every other field and hook stays, in its order") {
  ordered_json before = ordered_json::parse(kConfig);
  ordered_json c = edited(kConfig);
  ordered_json hooks_before = before["hooks"];
  CHECK(c["hooks"]["prestart"] == hooks_before["prestart"]);
  c.erase("hooks");
  before.erase("hooks");
  CHECK(c.dump() == before.dump());  // same keys, same order, same values
  CHECK(c["root"]["path"] == "/var/lib/docker/overlay2/abc/merged");
  // The key order of the whole file, hooks in its place.
  ordered_json whole = edited(kConfig);
  std::vector<std::string> keys;
  for (auto it = whole.begin(); it != whole.end(); ++it) keys.push_back(it.key());
  CHECK(keys == std::vector<std::string>{"ociVersion", "process", "root", "hostname", "hooks",
                                         "linux", "zz", "aa"});
}

TEST_CASE("config: existing hooks of the same stages stay first") {
  ordered_json c = edited(R"({"hooks":{"poststop":[{"path":"/bin/other"}],
    "createRuntime":[{"path":"/bin/nvidia-ctk","args":["nvidia-ctk","hook"]}]}})");
  REQUIRE(c["hooks"]["createRuntime"].size() == 2);
  CHECK(c["hooks"]["createRuntime"][0]["path"] == "/bin/nvidia-ctk");
  CHECK(c["hooks"]["createRuntime"][1]["path"] == kSpec.path);
  REQUIRE(c["hooks"]["poststop"].size() == 2);
  CHECK(c["hooks"]["poststop"][0]["path"] == "/bin/other");
  CHECK(c["hooks"]["poststop"][1]["args"][1] == "poststop");
}

TEST_CASE("config: editing twice changes nothing") {
  std::string once = edit_config(kConfig, kSpec, "c").text;
  EditResult twice = edit_config(once, kSpec, "c");
  CHECK(twice.outcome == EditOutcome::kAlreadyPresent);
  CHECK(twice.text.empty());
  // Present in one stage only: the other is added, the first not duplicated.
  ordered_json c = edited(R"({"hooks":{"createRuntime":[{"path":"/usr/libexec/vproc/vproc-hook",
    "args":["vproc-hook","create"]}]}})");
  CHECK(c["hooks"]["createRuntime"].size() == 1);
  CHECK(c["hooks"]["createRuntime"][0]["args"].size() == 2);
  CHECK(c["hooks"]["poststop"].size() == 1);
}

TEST_CASE("config: no hooks object, or a null one, or empty stages") {
  for (const char* text : {R"({"ociVersion":"1.0.2"})", R"({"hooks":null})", R"({"hooks":{}})",
                           R"({"hooks":{"createRuntime":[],"poststop":null}})"}) {
    CAPTURE(text);
    ordered_json c = edited(text);
    CHECK(c["hooks"]["createRuntime"].size() == 1);
    CHECK(c["hooks"]["poststop"].size() == 1);
  }
}

TEST_CASE("config: hook args without extra arguments") {
  ordered_json e = hook_entry(HookSpec{"/opt/vproc/bin/vproc-hook", {}}, "create");
  CHECK(e.dump() == R"({"path":"/opt/vproc/bin/vproc-hook","args":["vproc-hook","create"]})");
}

TEST_CASE("config: VPROC_ENABLE=false or vproc.io/enable=false leaves it alone") {
  CHECK(edit_config(R"({"process":{"env":["A=1","VPROC_ENABLE=false"]}})", kSpec, "c").outcome ==
        EditOutcome::kOptedOut);
  CHECK(edit_config(R"({"annotations":{"vproc.io/enable":"false"}})", kSpec, "c").outcome ==
        EditOutcome::kOptedOut);
  CHECK(edit_config(R"({"process":{"env":["VPROC_ENABLE=false"]}})", kSpec, "c").text.empty());
  // Anything else is not an opt-out.
  edited(R"({"process":{"env":["VPROC_ENABLE=true","X=VPROC_ENABLE=false"]}})");
  edited(R"({"annotations":{"vproc.io/enable":"true"},"process":{"env":"odd"}})");
  edited(R"({"annotations":{"vproc.io/enable":false}})");
}

TEST_CASE("config: malformed files are InputErrors naming the file") {
  auto edit = [](const char* text) { return edit_config(text, kSpec, "/b/config.json"); };
  CHECK_THROWS_WITH_AS(edit(""), "/b/config.json: not valid JSON", InputError);
  CHECK_THROWS_WITH_AS(edit("{\"hooks\":"), "/b/config.json: not valid JSON", InputError);
  CHECK_THROWS_WITH_AS(edit("[1]"), "/b/config.json: not a JSON object", InputError);
  CHECK_THROWS_WITH_AS(edit(R"({"hooks":[]})"), "/b/config.json: \"hooks\" is not an object",
                       InputError);
  CHECK_THROWS_WITH_AS(edit(R"({"hooks":{"poststop":{}}})"),
                       "/b/config.json: \"hooks.poststop\" is not an array", InputError);
  CHECK_THROWS_AS(edit("{\"a\":\"\xff\"}"), InputError);  // not UTF-8
}
