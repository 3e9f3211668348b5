// Registry record rendering/parsing and /proc/PID/stat start time (lib/registry/registry.h).
#include "lib/registry/registry.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>

#include "hook/plan.h"

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
