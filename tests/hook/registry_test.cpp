// Registry record rendering/parsing and /proc/PID/stat start time (lib/registry/registry.h).
#include "lib/registry/registry.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>

#include "hook/plan.h"
#include "lib/base/io.h"
#include "lib/files/files.h"
#include "lib/proc/identity.h"

using namespace vproc;
using namespace vproc::hook;

TEST_CASE("start time is field 22, counted after the last ')'") {
  CHECK(parse_start_time("1 (init) S 0 1 1 0 -1 4194560 100 200 1 2 3 4 5 6 20 0 1 0 12345 "
                         "170000 300") == 12345u);
  // comm with spaces and parentheses
  CHECK(parse_start_time("77 (a) b (c) S 1 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 999 0 0") == 999u);
  CHECK_FALSE(parse_start_time("77 (a) S 1 2 3").has_value());
  CHECK_FALSE(parse_start_time("garbage").has_value());
}

TEST_CASE("registry entry round-trips") {
  RegistryEntry e;
  e.id = "c1";
  e.pid = 42;
  e.pid_start_time = 123456789;
  e.mnt_ns = 4026532000;
  e.rootfs = "/run/b/rootfs";
  e.mountpoint = "/var/lib/vproc";
  e.files = {"proc/meminfo", "sys/devices/system/cpu/online"};
  e.attached_at = 1700000000;
  RegistryEntry r = parse_entry(render_entry(e));
  CHECK(r.id == e.id);
  CHECK(r.pid == e.pid);
  CHECK(r.pid_start_time == e.pid_start_time);
  CHECK(r.mnt_ns == e.mnt_ns);
  CHECK(r.rootfs == e.rootfs);
  CHECK(r.mountpoint == e.mountpoint);
  CHECK(r.files == e.files);
  CHECK(r.attached_at == e.attached_at);
  CHECK_FALSE(r.container_view);
  e.container_view = true;
  CHECK(parse_entry(render_entry(e)).container_view);
  CHECK_THROWS_AS(parse_entry("{}"), InputError);
  CHECK_THROWS_AS(parse_entry("nope"), InputError);
  // Numbers must be integers in range: the registry_entry fuzzer found 1e300
  // converted to int, and 2^32+1 silently truncated to pid 1.
  const std::string rest =
      R"("pid_start_time":1,"mnt_ns":1,"rootfs":"/","mountpoint":"/m","files":[]})";
  CHECK_THROWS_AS(parse_entry(R"({"id":"c1","pid":1e300,)" + rest), InputError);
  CHECK_THROWS_AS(parse_entry(R"({"id":"c1","pid":4294967297,)" + rest), InputError);
  CHECK_THROWS_AS(parse_entry(R"({"id":"c1","pid":-5,)" + rest), InputError);
  CHECK_THROWS_AS(parse_entry(R"({"id":"c1","pid":0,)" + rest), InputError);
  CHECK(parse_entry(R"({"id":"c1","pid":7,)" + rest).pid == 7);
  // A record from before the container view has no "view": per-reader files.
  CHECK_FALSE(parse_entry(R"({"id":"c1","pid":7,)" + rest).container_view);
  CHECK_THROWS_AS(parse_entry(R"({"id":"c1","pid":7,"view":3,)" + rest), InputError);
  // The pid limit is kMaxPid, as in the hook's state and the runtimes' files.
  CHECK(parse_entry(R"({"id":"c1","pid":4194304,)" + rest).pid == kMaxPid);
  CHECK_THROWS_AS(parse_entry(R"({"id":"c1","pid":4194305,)" + rest), InputError);
  CHECK_THROWS_AS(parse_entry(R"({"id":"c1","pid":2147483647,)" + rest), InputError);
}

TEST_CASE("registry paths refuse bad ids; write is atomic and removable") {
  CHECK_THROWS_AS(entry_path("/run/vproc", "../etc"), InputError);
  CHECK(entry_path("/run/vproc", "c1") == "/run/vproc/containers/c1.json");
  auto dir = std::filesystem::temp_directory_path() /
             ("vproc-registry-test-" + std::to_string(::getpid()));
  RegistryEntry e;
  e.id = "c2";
  e.pid = 1;
  write_entry(dir.string(), e);
  CHECK(std::filesystem::exists(dir / "containers" / "c2.json"));
  // Owner read/write only, whatever the umask and the stack held.
  CHECK(std::filesystem::status(dir / "containers" / "c2.json").permissions() ==
        (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));
  // No temporary left behind.
  CHECK(std::distance(std::filesystem::directory_iterator(dir / "containers"),
                      std::filesystem::directory_iterator{}) == 1);
  CHECK(remove_entry(dir.string(), "c2"));
  CHECK_FALSE(remove_entry(dir.string(), "c2"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("record_outcomes: mounted and already-attached files are recorded, other skips not") {
  RegistryEntry e;
  e.files = {"proc/stale"};  // replaced, not merged
  std::vector<InjectOutcome> outcomes = {
      {"proc/meminfo", InjectStatus::kMounted, "", false},
      {"proc/cpuinfo", InjectStatus::kSkipped, kAlreadyAttached, false},
      {"proc/stat", InjectStatus::kSkipped, "target is a symlink", false},
      {"proc/uptime", InjectStatus::kMounted, "", true},
      // The CPU directory is made at creation only: never re-attached.
      {kCpuDirTarget, InjectStatus::kMounted, "", false},
  };
  std::int64_t before = static_cast<std::int64_t>(std::time(nullptr));
  CHECK(record_outcomes(e, outcomes));
  CHECK(e.files == std::vector<std::string>{"proc/meminfo", "proc/cpuinfo", "proc/uptime"});
  CHECK(e.attached_at >= before);
  CHECK(recorded(outcomes[0]));
  CHECK(recorded(outcomes[1]));
  CHECK_FALSE(recorded(outcomes[2]));

  // Nothing that serves the container: nothing recorded, and the caller is told.
  RegistryEntry none;
  CHECK_FALSE(
      record_outcomes(none, {{"proc/stat", InjectStatus::kSkipped, "shared mount", false}}));
  CHECK(none.files.empty());
  CHECK_FALSE(record_outcomes(none, {}));
}

namespace {

// A proc root with one process: <pid>/stat and <pid>/ns/mnt (a plain file
// standing in for the namespace link; its inode is what identity reads).
struct FixtureProc {
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("vproc-identity-test-" + std::to_string(::getpid()));
  UniqueFd fd;

  FixtureProc() {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    fd = open_at(AT_FDCWD, dir.string(), O_PATH | O_DIRECTORY);
  }
  ~FixtureProc() { std::filesystem::remove_all(dir); }

  std::uint64_t add(int pid, const std::string& stat) {
    std::filesystem::create_directories(dir / std::to_string(pid) / "ns");
    std::ofstream(dir / std::to_string(pid) / "stat") << stat;
    std::ofstream(dir / std::to_string(pid) / "ns" / "mnt") << "";
    struct stat st {};
    REQUIRE(::stat((dir / std::to_string(pid) / "ns" / "mnt").c_str(), &st) == 0);
    return st.st_ino;
  }
};

}  // namespace

TEST_CASE("identity reads a proc root fd: start time, namespace, same_process") {
  FixtureProc proc;
  std::uint64_t ns =
      proc.add(4242, "4242 (sh (x)) S 1 4242 4242 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777 0 0\n");
  const int root = proc.fd.get();
  CHECK(process_start_time(4242, root) == 777u);
  CHECK(mount_ns_inode(4242, root) == ns);
  auto who = identify(4242, root);
  REQUIRE(who.has_value());
  CHECK(who->start_time == 777u);
  CHECK(who->mnt_ns == ns);
  CHECK(same_process(4242, 777, ns, root));
  CHECK(same_process(4242, 777, 0, root));  // 0: any namespace
  CHECK_FALSE(same_process(4242, 778, ns, root));
  CHECK_FALSE(same_process(4242, 777, ns + 1, root));

  // Gone, or out of range: absent, not an error.
  CHECK_FALSE(process_start_time(4243, root).has_value());
  CHECK_FALSE(identify(4243, root).has_value());
  CHECK_FALSE(same_process(4243, 777, 0, root));
  CHECK_FALSE(process_start_time(0, root).has_value());
  CHECK_FALSE(process_start_time(static_cast<int>(kMaxPid) + 1, root).has_value());
  CHECK(init_mount_ns(root) == 0);  // no pid 1 in this tree
  std::uint64_t init_ns = proc.add(1, "1 (init) S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0\n");
  CHECK(init_mount_ns(root) == init_ns);

  // A stat line the kernel never writes: an error, and "not the same" for same_process.
  proc.add(99, "99 (broken) S 1 2 3\n");
  CHECK_THROWS_AS(process_start_time(99, root), SysError);
  CHECK_THROWS_AS(identify(99, root), SysError);
  CHECK_FALSE(same_process(99, 0, 0, root));
}
