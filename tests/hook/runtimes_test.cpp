// Runtime state discovery (hook/runtimes.h), the attach command's pure
// helpers (hook/attach_cmd.h) and the opt-in policy (hook/plan.h).
#include "hook/runtimes.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "hook/attach_cmd.h"
#include "hook/plan.h"
#include "lib/proc/identity.h"

using namespace vproc;
using namespace vproc::hook;

namespace {

// Trimmed from a runc 1.1.5 state.json on this machine (runc run -d with two
// annotations); the fields runc writes but attach does not read are kept in
// short form so the parser is seen to ignore them.
const char* kRuncState = R"({"id":"web-1","init_process_pid":5949,"init_process_start":1089320,
  "created":"2026-11-27T04:02:22.190390999Z","config":{"no_pivot_root":false,
  "rootfs":"/srv/web-1/rootfs","readonlyfs":false,"mounts":[{"source":"proc","destination":"/proc",
  "device":"proc"}],"labels":["vproc.io/enable=true","vproc.io/files=meminfo,online",
  "bundle=/srv/web-1"],"namespaces":[{"type":"mount","path":""}]},"rootless":false,
  "cgroup_paths":{"memory":"/sys/fs/cgroup/memory/web-1"},"namespace_paths":{"NEWNS":"/proc/5949/ns/mnt"},
  "external_descriptors":["/dev/null","pipe:[1]","pipe:[2]"],"intel_rdt_path":""})";

// crun's status file, as crun 1.8 writes it.
const char* kCrunStatus = R"({
    "pid": 139179,
    "process-start-time": 263473330,
    "cgroup-path": "/busybox1",
    "scope": "",
    "rootfs": "/home/u/c/rootfs",
    "systemd-cgroup": false,
    "bundle": "/home/u/c",
    "created": "2021-08-29T14:34:52.000293421Z",
    "owner": "root",
    "detached": true,
    "external_descriptors": "[\"/dev/pts/1\"]"
})";

std::string runc_state(const std::string& fields) { return "{\"id\":\"x\"," + fields + "}"; }

}  // namespace

TEST_CASE("runc state.json: pid, start time, bundle label, annotations from labels") {
  RuntimeContainer c = parse_runc_state(kRuncState, "dir-name", "/run/runc/web-1/state.json");
  CHECK(c.id == "web-1");
  CHECK(c.runtime == "runc");
  CHECK(c.state_path == "/run/runc/web-1/state.json");
  CHECK(c.pid == 5949);
  CHECK(c.start_time == 1089320u);
  CHECK(c.bundle == "/srv/web-1");
  CHECK(c.label_annotations.size() == 2);
  CHECK(c.label_annotations.at("vproc.io/enable") == "true");
  CHECK(c.label_annotations.at("vproc.io/files") == "meminfo,online");
}

TEST_CASE("runc state.json: the directory name stands in for a missing id") {
  RuntimeContainer c = parse_runc_state(R"({"init_process_pid":7})", "dir-name", "p");
  CHECK(c.id == "dir-name");
  CHECK(c.pid == 7);
  CHECK(c.start_time == 0u);  // not recorded: identity rests on the live process
  CHECK(c.bundle.empty());
}

TEST_CASE("runc state.json: start time as a decimal string (runc < 1.0)") {
  CHECK(
      parse_runc_state(runc_state(R"("init_process_pid":7,"init_process_start":"4242")"), "x", "p")
          .start_time == 4242u);
  CHECK(parse_runc_state(runc_state(R"("init_process_pid":7,"init_process_start":null)"), "x", "p")
            .start_time == 0u);
}

TEST_CASE("runc labels: the last bundle label is runc's own; values may hold '='") {
  RuncLabels l = split_runc_labels({"bundle=/evil", "a=b=c", "novalue", "k=", "bundle=/real"});
  CHECK(l.bundle == "/real");
  CHECK(l.annotations.at("a") == "b=c");
  CHECK(l.annotations.at("k").empty());
  CHECK(l.annotations.at("bundle") == "/evil");  // an annotation that happens to be so named
  CHECK(l.annotations.count("novalue") == 0);
  CHECK(split_runc_labels({}).bundle.empty());
}

TEST_CASE("runc state.json: malformed input names the file and the field") {
  const std::string p = "/run/runc/x/state.json";
  CHECK(parse_runc_state(runc_state("\"init_process_pid\":4194304"), "x", p).pid == kMaxPid);
  CHECK_THROWS_WITH_AS(parse_runc_state("", "x", p), "/run/runc/x/state.json: empty file",
                       InputError);
  CHECK_THROWS_WITH_AS(parse_runc_state("{\"init_process_pid\":", "x", p),
                       "/run/runc/x/state.json: not valid JSON", InputError);
  CHECK_THROWS_WITH_AS(parse_runc_state("[]", "x", p), "/run/runc/x/state.json: not a JSON object",
                       InputError);
  CHECK_THROWS_WITH_AS(parse_runc_state(runc_state("\"created\":\"now\""), "x", p),
                       "/run/runc/x/state.json: missing \"init_process_pid\"", InputError);
  for (const char* bad : {"0", "-1", "\"12\"", "1.5", "99999999999", "4194305"}) {
    CAPTURE(bad);
    CHECK_THROWS_WITH_AS(
        parse_runc_state(runc_state(std::string("\"init_process_pid\":") + bad), "x", p),
        "/run/runc/x/state.json: \"init_process_pid\" is not a valid pid", InputError);
  }
  for (const char* bad : {"-5", "\"soon\"", "\"\"", "1.5", "[]"}) {
    CAPTURE(bad);
    CHECK_THROWS_WITH_AS(
        parse_runc_state(
            runc_state(std::string("\"init_process_pid\":7,\"init_process_start\":") + bad), "x",
            p),
        "/run/runc/x/state.json: \"init_process_start\" is not a start time (clock ticks)",
        InputError);
  }
  CHECK_THROWS_WITH_AS(parse_runc_state(runc_state(R"("init_process_pid":7,"config":[])"), "x", p),
                       "/run/runc/x/state.json: \"config\" is not an object", InputError);
  CHECK_THROWS_WITH_AS(
      parse_runc_state(runc_state(R"("init_process_pid":7,"config":{"labels":"bundle=/b"})"), "x",
                       p),
      "/run/runc/x/state.json: \"config.labels\" is not an array", InputError);
  CHECK_THROWS_WITH_AS(
      parse_runc_state(runc_state(R"("init_process_pid":7,"config":{"labels":[1]})"), "x", p),
      "/run/runc/x/state.json: \"config.labels\" holds a non-string", InputError);
  CHECK_THROWS_WITH_AS(parse_runc_state(R"({"id":5,"init_process_pid":7})", "x", p),
                       "/run/runc/x/state.json: \"id\" is not a string", InputError);
}

TEST_CASE("crun status: pid, start time, bundle; old crun without a start time") {
  RuntimeContainer c = parse_crun_status(kCrunStatus, "busybox1", "/run/crun/busybox1/status");
  CHECK(c.id == "busybox1");
  CHECK(c.runtime == "crun");
  CHECK(c.pid == 139179);
  CHECK(c.start_time == 263473330u);
  CHECK(c.bundle == "/home/u/c");
  CHECK(parse_crun_status(R"({"pid":3,"bundle":"/b"})", "c", "p").start_time == 0u);
  CHECK_THROWS_WITH_AS(parse_crun_status(R"({"bundle":"/b"})", "c", "/run/crun/c/status"),
                       "/run/crun/c/status: missing \"pid\"", InputError);
  CHECK_THROWS_WITH_AS(parse_crun_status(R"({"pid":3,"bundle":7})", "c", "/run/crun/c/status"),
                       "/run/crun/c/status: \"bundle\" is not a string", InputError);
}

TEST_CASE("discovery: runc, containerd namespaces and crun layouts; broken files reported") {
  namespace fs = std::filesystem;
  fs::path base = fs::temp_directory_path() / ("vproc-runtimes-test-" + std::to_string(::getpid()));
  fs::remove_all(base);
  auto write = [&](const fs::path& rel, const std::string& text) {
    fs::create_directories((base / rel).parent_path());
    std::ofstream(base / rel) << text;
  };
  // runc root: two containers, one being created (no state.json yet), one
  // with a broken file, and a dot entry.
  write("runc/b-ctr/state.json", R"({"id":"b-ctr","init_process_pid":20})");
  write("runc/a-ctr/state.json", R"({"id":"a-ctr","init_process_pid":10})");
  write("runc/creating/exec.fifo", "");
  write("runc/broken/state.json", "{not json");
  write("runc/.hidden/state.json", R"({"init_process_pid":99})");
  // containerd: ROOT/<namespace>/<id>/state.json
  write("containerd/default/c1/state.json", R"({"id":"c1","init_process_pid":30})");
  write("containerd/k8s.io/c2/state.json", R"({"id":"c2","init_process_pid":40})");
  // crun
  write("crun/cr1/status", R"({"pid":50,"process-start-time":5,"bundle":"/b"})");
  write("crun/.empty-directory/x", "");

  std::vector<FoundContainer> found =
      discover_containers({(base / "runc").string(), (base / "missing").string(),
                           (base / "containerd").string(), (base / "crun").string()});
  std::vector<std::string> ids;
  for (const FoundContainer& f : found) ids.push_back(f.container.id);
  CHECK(ids == std::vector<std::string>{"a-ctr", "b-ctr", "broken", "c1", "c2", "cr1"});
  REQUIRE(found.size() == 6);
  CHECK(found[0].error.empty());
  CHECK(found[0].container.pid == 10);
  CHECK(found[2].error == (base / "runc/broken/state.json").string() + ": not valid JSON");
  CHECK(found[2].container.state_path == (base / "runc/broken/state.json").string());
  CHECK(found[3].container.pid == 30);
  CHECK(found[3].container.state_path == (base / "containerd/default/c1/state.json").string());
  CHECK(found[5].container.runtime == "crun");
  CHECK(found[5].container.start_time == 5u);
  CHECK(discover_containers({(base / "missing").string()}).empty());
  fs::remove_all(base);
}

TEST_CASE("match_pid: the init itself first, then a shared mount namespace") {
  std::vector<LiveContainer> live(3);
  live[0].container.pid = 100;
  live[0].mnt_ns = 1000;
  live[1].container.pid = 200;
  live[1].mnt_ns = 2000;
  live[2].container.pid = 300;
  live[2].mnt_ns = 2000;  // a second container sharing 200's namespace
  CHECK(match_pid(live, 200, 2000) == std::optional<size_t>(1));
  CHECK(match_pid(live, 300, 2000) == std::optional<size_t>(2));
  CHECK(match_pid(live, 101, 1000) == std::optional<size_t>(0));  // `runc exec`'d process
  CHECK(match_pid(live, 555, 3000) == std::nullopt);
  CHECK(match_pid(live, 555, 0) == std::nullopt);  // an unknown namespace matches nothing
  CHECK(match_pid({}, 1, 1) == std::nullopt);
}

TEST_CASE("attach output: file names and grouped skip reasons") {
  CHECK(file_name_of("proc/meminfo") == "meminfo");
  CHECK(file_name_of("sys/devices/system/cpu/online") == "online");
  CHECK(file_name_of("proc/other") == "proc/other");
  using vproc::InjectOutcome;
  using vproc::InjectStatus;
  std::vector<InjectOutcome> all = {{"proc/meminfo", InjectStatus::kSkipped, "already attached"},
                                    {"proc/stat", InjectStatus::kSkipped, "already attached"}};
  CHECK(summarize_skips(all, 2) == "already attached");
  CHECK(summarize_skips(all, 8) == "already attached (meminfo, stat)");
  all.push_back({"sys/devices/system/cpu/online", InjectStatus::kSkipped, "does not exist"});
  CHECK(summarize_skips(all, 3) == "already attached (meminfo, stat); does not exist (online)");
  CHECK(summarize_skips({}, 8).empty());
}

TEST_CASE("policy opt-in: only vproc.io/enable=true injects; false and bad values as before") {
  State s = parse_state(R"({"id":"c1","pid":42,"bundle":"/b"})");
  Config c = parse_config(R"({"root":{"path":"rootfs"}})");
  CHECK(make_plan(s, c, "/mp").inject);  // the default policy is opt-out
  CHECK(make_plan(s, c, "/mp", Policy::kOptOut).inject);
  Plan off = make_plan(s, c, "/mp", Policy::kOptIn);
  CHECK_FALSE(off.inject);
  CHECK(off.why_not == "vproc.io/enable is not set (policy opt-in injects only \"true\")");
  c.annotations["vproc.io/enable"] = "true";
  CHECK(make_plan(s, c, "/mp", Policy::kOptIn).inject);
  s.annotations["vproc.io/enable"] = "false";  // the state's wins
  CHECK_FALSE(make_plan(s, c, "/mp", Policy::kOptIn).inject);
  CHECK_FALSE(make_plan(s, c, "/mp", Policy::kOptOut).inject);
  s.annotations["vproc.io/enable"] = "1";
  CHECK_THROWS_AS(make_plan(s, c, "/mp", Policy::kOptIn), InputError);
}
