// The container's own CPU directory: which entries it keeps (lib/inject), the
// CPUs the hook gives it (hook/cpu_dir.h) and vprocd's published cpu view.
#include "hook/cpu_dir.h"

#include <doctest/doctest.h>
#include <sched.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "lib/core/parse.h"
#include "lib/files/files.h"
#include "lib/registry/registry.h"

using namespace vproc;
using namespace vproc::hook;

namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/vproc-cpudir-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

}  // namespace

TEST_CASE("cpu directory: cpuN only for the container's CPUs, every other entry kept") {
  const std::vector<int> cpus = {1, 3};
  CHECK(cpu_dir_keeps("cpu1", cpus));
  CHECK(cpu_dir_keeps("cpu3", cpus));
  CHECK_FALSE(cpu_dir_keeps("cpu0", cpus));
  CHECK_FALSE(cpu_dir_keeps("cpu2", cpus));
  CHECK_FALSE(cpu_dir_keeps("cpu13", cpus));
  for (const char* other : {"cpufreq", "cpuidle", "online", "possible", "present", "kernel_max",
                            "vulnerabilities", "smt", "cpu", "cpux1", "uevent", "hotplug"}) {
    INFO(other);
    CHECK(cpu_dir_keeps(other, cpus));
  }
  CHECK(in_cpu_dir("sys/devices/system/cpu/online"));
  CHECK(in_cpu_dir("sys/devices/system/cpu/possible"));
  CHECK_FALSE(in_cpu_dir("sys/devices/system/cpu"));
  CHECK_FALSE(in_cpu_dir("sys/devices/system/cpuidle/x"));
  CHECK_FALSE(in_cpu_dir("proc/meminfo"));
}

TEST_CASE("cpu view: vprocd publishes it, the hook reads it, quota when unknown") {
  TempDir d;
  CHECK(read_cpu_view(d.path.string()) == core::CpuView::kQuota);  // absent
  write_cpu_view(d.path.string(), core::CpuView::kCpuset);
  CHECK(read_cpu_view(d.path.string()) == core::CpuView::kCpuset);
  write_cpu_view(d.path.string(), core::CpuView::kQuota);
  CHECK(read_cpu_view(d.path.string()) == core::CpuView::kQuota);
  std::ofstream(d.path / "cpu-view") << "garbage\n";
  CHECK(read_cpu_view(d.path.string()) == core::CpuView::kQuota);
  CHECK(read_cpu_view((d.path / "missing" / "dir").string()) == core::CpuView::kQuota);
}

TEST_CASE("container_cpus: this process's CPUs by the cpuset view; a gone pid says why") {
  TempDir d;
  write_cpu_view(d.path.string(), core::CpuView::kCpuset);
  std::string why;
  auto cpus = container_cpus(::getpid(), d.path.string(), "/sys/fs/cgroup", &why);
  REQUIRE_MESSAGE(cpus, why);
  // The cpuset bounds the affinity of every process in it; the test runs
  // unpinned, so its affinity is its cpuset's online CPUs.
  cpu_set_t set;
  REQUIRE(::sched_getaffinity(0, sizeof set, &set) == 0);
  std::vector<int> affinity;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &set)) affinity.push_back(c);
  }
  CHECK(*cpus == affinity);

  why.clear();
  CHECK_FALSE(container_cpus(kMaxPid, d.path.string(), "/sys/fs/cgroup", &why));
  CHECK(why.find("is gone") != std::string::npos);
  why.clear();
  CHECK_FALSE(container_cpus(::getpid(), d.path.string(), "/nonexistent-cgroup-root", &why));
  CHECK(why.find("/nonexistent-cgroup-root") != std::string::npos);
}

TEST_CASE("plan_cpu_dir: set only when a file lies in the CPU directory") {
  TempDir d;
  AttachRequest req;
  req.pid = ::getpid();
  req.files = {{"/mp/proc/meminfo", "proc/meminfo", false}};
  CHECK(plan_cpu_dir(req, d.path.string()).empty());
  CHECK_FALSE(req.cpu_dir);
  req.files.push_back(
      {"/mp/sys/devices/system/cpu/online", "sys/devices/system/cpu/online", false});
  CHECK(plan_cpu_dir(req, d.path.string()).empty());
  REQUIRE(req.cpu_dir);
  CHECK_FALSE(req.cpu_dir->empty());
  req.cpu_dir.reset();
  std::string note = plan_cpu_dir(req, d.path.string(), "/nonexistent-cgroup-root");
  CHECK_FALSE(req.cpu_dir);
  CHECK(note.find("was not made") != std::string::npos);
}
