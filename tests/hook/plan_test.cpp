// Planning: OCI state + config.json -> what to mount where (hook/plan.h).
#include "hook/plan.h"

#include <doctest/doctest.h>

#include "lib/proc/identity.h"
#include "lib/registry/registry.h"

using namespace vproc;
using namespace vproc::hook;

namespace {
const char* kState = R"({"ociVersion":"1.0.2","id":"c1","status":"creating","pid":4242,
  "bundle":"/run/b/c1","annotations":{"a":"b"}})";
const char* kConfig = R"({"ociVersion":"1.0.2","root":{"path":"rootfs"},"annotations":{}})";

std::vector<std::string> targets(const Plan& p) {
  std::vector<std::string> out;
  for (const auto& f : p.files) out.push_back(f.target);
  return out;
}
}  // namespace

TEST_CASE("state: well-formed") {
  State s = parse_state(kState);
  CHECK(s.id == "c1");
  CHECK(s.pid == 4242);
  CHECK(s.bundle == "/run/b/c1");
  CHECK(s.status == "creating");
  CHECK(s.annotations.at("a") == "b");
}

TEST_CASE("state: old bundlePath is accepted, bundle wins when both exist") {
  CHECK(parse_state(R"({"id":"x","pid":1,"bundlePath":"/old"})").bundle == "/old");
  CHECK(parse_state(R"({"id":"x","pid":1,"bundle":"/new","bundlePath":"/old"})").bundle == "/new");
}

TEST_CASE("state: malformed input is a InputError with a clear message") {
  CHECK_THROWS_WITH_AS(parse_state(""), "state: empty input", InputError);
  CHECK_THROWS_WITH_AS(parse_state("  \n"), "state: empty input", InputError);
  CHECK_THROWS_WITH_AS(parse_state("not json"), "state: not valid JSON", InputError);
  CHECK_THROWS_WITH_AS(parse_state("{\"id\":"), "state: not valid JSON", InputError);
  CHECK_THROWS_WITH_AS(parse_state("[1,2]"), "state: not a JSON object", InputError);
  CHECK_THROWS_WITH_AS(parse_state(R"({"pid":1})"), "state: missing \"id\"", InputError);
  CHECK_THROWS_AS(parse_state(R"({"id":"a/b","pid":1})"), InputError);
  CHECK_THROWS_AS(parse_state(R"({"id":"x","pid":"12"})"), InputError);
  CHECK_THROWS_AS(parse_state(R"({"id":"x","pid":-3})"), InputError);
  CHECK_THROWS_AS(parse_state(R"({"id":"x","pid":1.5})"), InputError);
  // The pid limit is kMaxPid (PID_MAX_LIMIT), the same as everywhere else.
  CHECK(parse_state(R"({"id":"x","pid":4194304})").pid == kMaxPid);
  CHECK_THROWS_WITH_AS(parse_state(R"({"id":"x","pid":4194305})"),
                       "state: \"pid\" is not a valid pid", InputError);
  CHECK_THROWS_AS(parse_state(R"({"id":"x","pid":1,"annotations":[]})"), InputError);
  CHECK_THROWS_AS(parse_state(R"({"id":"x","pid":1,"annotations":{"k":1}})"), InputError);
}

TEST_CASE("state: missing pid parses (poststop has none) but cannot be planned") {
  State s = parse_state(R"({"id":"x","bundle":"/b","status":"stopped"})");
  CHECK(s.pid == 0);
  CHECK_THROWS_WITH_AS(make_plan(s, parse_config(kConfig), "/var/lib/vproc"),
                       "state: missing \"pid\"", InputError);
}

TEST_CASE("config: root.path required") {
  CHECK(parse_config(kConfig).root_path == "rootfs");
  CHECK_THROWS_AS(parse_config("{}"), InputError);
  CHECK_THROWS_AS(parse_config(R"({"root":{}})"), InputError);
  CHECK_THROWS_AS(parse_config(R"({"root":{"path":7}})"), InputError);
  CHECK_THROWS_WITH_AS(parse_config(""), "config.json: empty input", InputError);
}

TEST_CASE("rootfs: relative to the bundle, absolute kept, normalised") {
  CHECK(resolve_rootfs("/run/b/c1", "rootfs") == "/run/b/c1/rootfs");
  CHECK(resolve_rootfs("/run/b/c1/", "./rootfs/") == "/run/b/c1/rootfs");
  CHECK(resolve_rootfs("/run/b/c1", "/srv/root") == "/srv/root");
  CHECK(resolve_rootfs("/run/b/c1", "../shared/rootfs") == "/run/b/shared/rootfs");
  CHECK_THROWS_AS(resolve_rootfs("", "rootfs"), InputError);
  CHECK_THROWS_AS(resolve_rootfs("relative/bundle", "rootfs"), InputError);
}

TEST_CASE("plan: default injects every known file from the mountpoint") {
  Plan p = make_plan(parse_state(kState), parse_config(kConfig), "/var/lib/vproc/");
  REQUIRE(p.inject);
  CHECK(p.rootfs == "/run/b/c1/rootfs");
  REQUIRE(p.files.size() == injectable_files().size());
  CHECK(p.files[0].source == "/var/lib/vproc/proc/meminfo");
  CHECK(p.files[0].target == "proc/meminfo");
  CHECK(p.files.back().source == "/var/lib/vproc/sys/devices/system/cpu/present");
  CHECK(p.files.back().target == "sys/devices/system/cpu/present");
  // Pressure files are in the set, as optional (vprocd serves them only where
  // the host has PSI); no other file is.
  size_t optional = 0;
  for (const PlannedFile& f : p.files) {
    CHECK(f.optional == (f.name.rfind("pressure/", 0) == 0));
    optional += f.optional;
  }
  CHECK(optional == 3);
}

TEST_CASE("plan: vproc.io/files names pressure and the CPU directory's files") {
  State s = parse_state(kState);
  s.annotations["vproc.io/files"] = "present,pressure/io,possible";
  Plan p = make_plan(s, parse_config(kConfig), "/var/lib/vproc");
  REQUIRE(p.files.size() == 3);
  CHECK(p.files[0].target == "proc/pressure/io");
  CHECK(p.files[0].optional);
  CHECK(p.files[1].target == "sys/devices/system/cpu/possible");
  CHECK(p.files[2].target == "sys/devices/system/cpu/present");
  CHECK_FALSE(p.files[1].optional);
}

TEST_CASE("plan: vproc.io/enable from state or config; state wins") {
  State s = parse_state(kState);
  Config c = parse_config(kConfig);
  c.annotations["vproc.io/enable"] = "false";
  Plan off = make_plan(s, c, "/mp");
  CHECK_FALSE(off.inject);
  CHECK(off.why_not.find("false") != std::string::npos);
  s.annotations["vproc.io/enable"] = "true";
  CHECK(make_plan(s, c, "/mp").inject);
  s.annotations["vproc.io/enable"] = "yes";
  CHECK_THROWS_AS(make_plan(s, c, "/mp"), InputError);
}

TEST_CASE("plan: disabled container needs no pid") {
  State s = parse_state(R"({"id":"x","annotations":{"vproc.io/enable":"false"}})");
  CHECK_FALSE(make_plan(s, parse_config(kConfig), "/mp").inject);
}

TEST_CASE("plan: vproc.io/files narrows the set, from config too") {
  State s = parse_state(kState);
  Config c = parse_config(kConfig);
  c.annotations["vproc.io/files"] = "online, meminfo";
  Plan p = make_plan(s, c, "/mp");
  CHECK(targets(p) == std::vector<std::string>{"proc/meminfo", "sys/devices/system/cpu/online"});
  s.annotations["vproc.io/files"] = "uptime";
  CHECK(targets(make_plan(s, c, "/mp")) == std::vector<std::string>{"proc/uptime"});
}

TEST_CASE("files list parsing") {
  CHECK(parse_files_list("meminfo") == std::vector<std::string>{"meminfo"});
  CHECK(parse_files_list(" cpuinfo ,meminfo,,meminfo ") ==
        std::vector<std::string>{"meminfo", "cpuinfo"});
  CHECK(parse_files_list("online,diskstats,swaps,loadavg,uptime,stat").size() == 6);
  // Items are trimmed of the same whitespace as everything else (lib/base/io.h trim).
  CHECK(parse_files_list("\tonline\r\n,\vmeminfo") ==
        std::vector<std::string>{"meminfo", "online"});
  CHECK_THROWS_WITH_AS(parse_files_list(""), "vproc.io/files: empty list", InputError);
  CHECK_THROWS_AS(parse_files_list(" , "), InputError);
  CHECK_THROWS_AS(parse_files_list("meminfo,../../etc/shadow"), InputError);
  CHECK_THROWS_AS(parse_files_list("Meminfo"), InputError);
}

TEST_CASE("container id validation") {
  CHECK(valid_container_id("c1"));
  CHECK(valid_container_id("0123456789abcdef0123456789abcdef"));
  CHECK(valid_container_id("my_ctr-1.2"));
  CHECK_FALSE(valid_container_id(""));
  CHECK_FALSE(valid_container_id("."));
  CHECK_FALSE(valid_container_id(".."));
  CHECK_FALSE(valid_container_id("a/b"));
  CHECK_FALSE(valid_container_id("../x"));
  CHECK_FALSE(valid_container_id("a b"));
  CHECK_FALSE(valid_container_id(std::string("a\0b", 3)));
  CHECK(valid_container_id(std::string(256, 'a')));
  CHECK_FALSE(valid_container_id(std::string(257, 'a')));
}

TEST_CASE("peek_id finds the id for log lines when the rest is bad") {
  CHECK(peek_id(R"({"id":"c1","pid":"x"})") == "c1");
  CHECK(peek_id(R"({"id":"../x"})") == "");
  CHECK(peek_id("nope") == "");
  CHECK(peek_id(R"({"id":5})") == "");
}
