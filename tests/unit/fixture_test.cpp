// Tier 2: the cgroup reader and the view service on fixture trees
// (tests/fixtures/{v1,v2,hybrid}; see tests/fixtures/README.md).
#include <doctest/doctest.h>
#include <fcntl.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "fsd/view/view.h"
#include "lib/base/io.h"
#include "lib/base/sys_error.h"
#include "lib/cgroup/cgroup_reader.h"
#include "lib/core/parse.h"

using namespace vproc;
using view::FileKind;

namespace {

const std::string kFixtures = VPROC_FIXTURES;

std::unique_ptr<view::ViewService> service(const std::string& mode,
                                           core::CpuView cpu_view = core::CpuView::kQuota) {
  view::Options o;
  o.cpu_view = cpu_view;
  o.loadavg_interval = std::chrono::hours(1);
  std::string root = kFixtures + "/" + mode;
  return std::make_unique<view::ViewService>(
      open_at(AT_FDCWD, root + "/cgroup", O_RDONLY | O_DIRECTORY),
      open_at(AT_FDCWD, root + "/proc", O_RDONLY | O_DIRECTORY), o);
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

uint64_t field(const std::string& meminfo, const char* key) {
  auto v = core::meminfo_value(core::parse_meminfo(meminfo, "meminfo"), key);
  REQUIRE(v.has_value());
  return *v;
}

std::vector<std::string> lines_starting(const std::string& text, const std::string& prefix) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (l.rfind(prefix, 0) == 0) out.push_back(l);
  }
  return out;
}

const FileKind kTwinKinds[] = {FileKind::kMeminfo, FileKind::kCpuinfo, FileKind::kStat,
                               FileKind::kUptime,  FileKind::kSwaps,   FileKind::kDiskstats,
                               FileKind::kOnline,  FileKind::kLoadavg};

}  // namespace

TEST_CASE("fixture guard: the trees exist and hold the cases the tests name") {
  for (const char* mode : {"v1", "v2", "hybrid"}) {
    for (const char* f : {"/proc/meminfo", "/proc/stat", "/proc/101/cgroup", "/proc/104/cgroup"}) {
      INFO(mode << f);
      CHECK_FALSE(slurp(kFixtures + "/" + mode + f).empty());
    }
  }
  CHECK_FALSE(slurp(kFixtures + "/v1/cgroup/memory/limited/memory.limit_in_bytes").empty());
  CHECK_FALSE(slurp(kFixtures + "/v2/cgroup/limited/memory.max").empty());
  CHECK_FALSE(slurp(kFixtures + "/hybrid/cgroup/unified/limited/cpu.pressure").empty());
}

TEST_CASE("layout detection: v1 with a combined cpu,cpuacct, v2, hybrid") {
  auto v1 = cgroup::detect_layout(open_at(AT_FDCWD, kFixtures + "/v1/cgroup", O_RDONLY).get());
  CHECK(v1.v1_dir.at("cpu") == "cpu,cpuacct");
  CHECK(v1.v1_dir.at("cpuacct") == "cpu,cpuacct");
  CHECK(v1.v1_dir.at("memory") == "memory");
  CHECK_FALSE(v1.unified_dir.has_value());
  auto v2 = cgroup::detect_layout(open_at(AT_FDCWD, kFixtures + "/v2/cgroup", O_RDONLY).get());
  CHECK(v2.pure_v2());
  auto hy = cgroup::detect_layout(open_at(AT_FDCWD, kFixtures + "/hybrid/cgroup", O_RDONLY).get());
  CHECK(hy.unified_dir == "unified");
  CHECK(hy.v1_dir.at("cpu") == "cpu");
}

TEST_CASE("every v1 fixture's v2 twin (and hybrid) renders the same file") {
  auto v1 = service("v1");
  auto v2 = service("v2");
  auto hy = service("hybrid");
  for (pid_t pid : {101, 102, 103, 105, 106, 107}) {
    for (FileKind k : kTwinKinds) {
      INFO("pid " << pid << " kind " << static_cast<int>(k));
      std::string a = v1->render(k, pid);
      CHECK(a == v2->render(k, pid));
      CHECK(a == hy->render(k, pid));
    }
  }
}

TEST_CASE("a limited cgroup: memory, swap, CPUs, stat, diskstats") {
  for (const char* mode : {"v1", "v2", "hybrid"}) {
    INFO(mode);
    auto s = service(mode);
    std::string mem = s->render(FileKind::kMeminfo, 101);
    CHECK(field(mem, "MemTotal") == 262144);
    CHECK(field(mem, "MemFree") == 262144 - 102400);
    CHECK(field(mem, "Cached") == 51200);
    CHECK(field(mem, "Mapped") == 8192);
    CHECK(field(mem, "Shmem") == 4096);
    CHECK(field(mem, "Dirty") == 1024);
    CHECK(field(mem, "AnonHugePages") == 2048);
    CHECK(field(mem, "AnonPages") == 51200);
    CHECK(field(mem, "MemAvailable") == 262144 - 102400 + 51200);
    CHECK(field(mem, "SwapTotal") == 131072);
    CHECK(field(mem, "SwapFree") == 131072 - 10240);
    CHECK(field(mem, "VmallocTotal") == 34359738367ULL);  // the host's
    std::string swaps = s->render(FileKind::kSwaps, 101);
    CHECK(swaps.find("131072") != std::string::npos);

    // cpuset 1-3, quota 1.5: CPUs 1 and 2, the same ids everywhere.
    CHECK(s->render(FileKind::kOnline, 101) == "1-2\n");
    auto procs = lines_starting(s->render(FileKind::kCpuinfo, 101), "processor");
    CHECK(procs == std::vector<std::string>{"processor\t: 1", "processor\t: 2"});
    std::string stat = s->render(FileKind::kStat, 101);
    // 6 s user / 3 s system over CPUs 1-3 (v1 split, v2 total), shown on 2 CPUs;
    // age = 1000.00 s uptime - 0.05 s init start.
    CHECK(lines_starting(stat, "cpu") ==
          std::vector<std::string>{"cpu  600 0 300 199090 0 0 0 0 0 0",
                                   "cpu1 300 0 150 99545 0 0 0 0 0 0",
                                   "cpu2 300 0 150 99545 0 0 0 0 0 0"});
    CHECK(lines_starting(stat, "btime") == std::vector<std::string>{"btime 1764201600"});
    // Host pid namespace in the fixture: uptime stays the host's.
    CHECK(s->render(FileKind::kUptime, 101) == "1000.00 3900.00\n");

    std::string disk = s->render(FileKind::kDiskstats, 101);
    CHECK(lines_starting(disk, "   8       0 sda") ==
          std::vector<std::string>{"   8       0 sda 10 0 2048 0 20 0 4096 0 0 0 0 0 0 0 0 0 0"});
    CHECK(lines_starting(disk, "   8       1 sda1") ==
          std::vector<std::string>{"   8       1 sda1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0"});

    // One running task (pid 4242) in the cgroup. The first read starts
    // following it and shows its tasks at once; the sampler, woken by that
    // read (not the reader), takes the first sample, which moves the averages.
    s->start_sampler();
    std::string load = s->render(FileKind::kLoadavg, 101);
    CHECK(load.find("/1 4242\n") != std::string::npos);
    for (int i = 0; i < 500 && load.rfind("0.00 0.00 0.00", 0) == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      load = s->render(FileKind::kLoadavg, 101);
    }
    CHECK(load.find(" 1/1 4242\n") != std::string::npos);
    CHECK(load.rfind("0.00 0.00 0.00", 0) != 0);
  }
}

TEST_CASE("the cpuset view ignores the quota") {
  auto s = service("v2", core::CpuView::kCpuset);
  CHECK(s->render(FileKind::kOnline, 101) == "1-3\n");
  CHECK(lines_starting(s->render(FileKind::kStat, 101), "cpu").size() == 4);
}

TEST_CASE("a parent's limit below the child's binds the child") {
  for (const char* mode : {"v1", "v2"}) {
    auto s = service(mode);
    CHECK(field(s->render(FileKind::kMeminfo, 102), "MemTotal") == 131072);
    CHECK(s->render(FileKind::kOnline, 102) == "0\n");  // parent quota 0.5 CPU
  }
}

TEST_CASE("unlimited and root readers see the host's values") {
  for (const char* mode : {"v1", "v2", "hybrid"}) {
    auto s = service(mode);
    std::string host_mem = slurp(kFixtures + "/" + mode + "/proc/meminfo");
    CHECK(s->render(FileKind::kMeminfo, 103) == host_mem);
    CHECK(s->render(FileKind::kOnline, 103) == "0-3\n");
    CHECK(s->render(FileKind::kMeminfo, 105) == host_mem);
    CHECK(s->render(FileKind::kStat, 105) == slurp(kFixtures + "/" + mode + "/proc/stat"));
    CHECK(s->render(FileKind::kCpuinfo, 105) == slurp(kFixtures + "/" + mode + "/proc/cpuinfo"));
    CHECK(s->render(FileKind::kDiskstats, 105) ==
          slurp(kFixtures + "/" + mode + "/proc/diskstats"));
    CHECK(s->render(FileKind::kLoadavg, 105) == slurp(kFixtures + "/" + mode + "/proc/loadavg"));
    CHECK(s->render(FileKind::kSwaps, 105) == slurp(kFixtures + "/" + mode + "/proc/swaps"));
  }
}

TEST_CASE("usage above the limit clamps free values at 0") {
  auto s = service("v2");
  std::string mem = s->render(FileKind::kMeminfo, 107);
  CHECK(field(mem, "MemTotal") == 65536);
  CHECK(field(mem, "MemFree") == 0);
  CHECK(field(mem, "MemAvailable") <= 65536);
  CHECK(field(mem, "SwapTotal") == 0);
  CHECK(s->render(FileKind::kSwaps, 107).find("none") == std::string::npos);
}

TEST_CASE("missing cgroup files: the host's values; malformed ones: an error, no crash") {
  for (const char* mode : {"v1", "v2", "hybrid"}) {
    INFO(mode);
    auto s = service(mode);
    CHECK(s->render(FileKind::kMeminfo, 106) == slurp(kFixtures + "/" + mode + "/proc/meminfo"));
    CHECK(s->render(FileKind::kOnline, 106) == "0-3\n");
    CHECK_THROWS_AS(s->render(FileKind::kMeminfo, 104), SysError);
    CHECK_THROWS_AS(s->render(FileKind::kOnline, 104), SysError);
    CHECK_THROWS_AS(s->render(FileKind::kStat, 104), SysError);
    CHECK_THROWS_AS(s->render(FileKind::kDiskstats, 104), SysError);
    // A pid that does not exist.
    CHECK_THROWS_AS(s->render(FileKind::kMeminfo, 999999), SysError);
  }
}

TEST_CASE("pressure: the cgroup's own files where the kernel has them") {
  auto v2 = service("v2");
  CHECK(v2->render(FileKind::kPressureCpu, 101).rfind("some avg10=0.8 ", 0) == 0);
  CHECK(v2->render(FileKind::kPressureIo, 102).rfind("some avg10=0.13 ", 0) == 0);
  auto hy = service("hybrid");
  CHECK(hy->render(FileKind::kPressureMemory, 101).rfind("some avg10=0.8 ", 0) == 0);
  auto v1 = service("v1");  // no unified hierarchy: the host's
  CHECK(v1->render(FileKind::kPressureCpu, 101) == slurp(kFixtures + "/v1/proc/pressure/cpu"));
  CHECK(v2->render(FileKind::kPressureCpu, 105) == slurp(kFixtures + "/v2/proc/pressure/cpu"));
}

TEST_CASE("golden files: every file a limited reader sees (v2)") {
  // VPROC_UPDATE_GOLDEN=1 rewrites them; review the diff before committing.
  const bool update = std::getenv("VPROC_UPDATE_GOLDEN") != nullptr;
  auto s = service("v2");
  const std::pair<FileKind, const char*> files[] = {
      {FileKind::kMeminfo, "meminfo"},     {FileKind::kCpuinfo, "cpuinfo"},
      {FileKind::kStat, "stat"},           {FileKind::kSwaps, "swaps"},
      {FileKind::kDiskstats, "diskstats"}, {FileKind::kOnline, "online"}};
  for (const auto& [kind, name] : files) {
    std::string path = kFixtures + "/golden/limited." + name;
    std::string got = s->render(kind, 101);
    if (update) {
      std::ofstream(path) << got;
    }
    INFO(path);
    CHECK(got == slurp(path));
  }
}

TEST_CASE("v1 limits: memory.stat's hierarchical_*_limit on a live cgroupfs, else the walk") {
  // A v1 memory tree of two siblings under a parent limited to 64 MiB. "kernel"
  // has memory.stat's hierarchical limits (what the kernel computes over the
  // ancestors: here below the parent's, to tell which was used); "walked" has
  // none, so its own and its ancestors' limit files decide.
  namespace fs = std::filesystem;
  char tmpl[] = "/tmp/vproc-v1-limits.XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  const fs::path root = tmpl;
  auto put = [&](const fs::path& rel, const std::string& text) {
    fs::create_directories((root / rel).parent_path());
    std::ofstream(root / rel) << text;
  };
  const std::string kUnlimited = std::to_string(core::kV1Unlimited) + "\n";
  put("memory/parent/memory.limit_in_bytes", "67108864\n");
  put("memory/parent/memory.memsw.limit_in_bytes", "134217728\n");
  for (const char* leaf : {"kernel", "walked"}) {
    put(std::string("memory/parent/") + leaf + "/memory.limit_in_bytes", kUnlimited);
    put(std::string("memory/parent/") + leaf + "/memory.memsw.limit_in_bytes", kUnlimited);
    put(std::string("memory/parent/") + leaf + "/memory.usage_in_bytes", "1048576\n");
    put(std::string("memory/parent/") + leaf + "/memory.memsw.usage_in_bytes", "1048576\n");
  }
  put("memory/parent/kernel/memory.stat",
      "cache 0\nrss 0\nhierarchical_memory_limit 33554432\nhierarchical_memsw_limit 50331648\n");
  put("memory/parent/walked/memory.stat", "cache 0\nrss 0\n");

  // The tree stands in for a live cgroupfs (kernel_tree = true).
  cgroup::CgroupReader reader(open_at(AT_FDCWD, root.string(), O_RDONLY | O_DIRECTORY), true);
  cgroup::Place kernel{"memory", "/parent/kernel", false};
  cgroup::Place walked{"memory", "/parent/walked", false};
  auto k = reader.memory(kernel);
  auto w = reader.memory(walked);
  // A copied tree: the limit files decide, whatever memory.stat says.
  cgroup::CgroupReader copy(open_at(AT_FDCWD, root.string(), O_RDONLY | O_DIRECTORY));
  auto c = copy.memory(kernel);
  fs::remove_all(root);
  REQUIRE(c.max.has_value());
  CHECK(*c.max == 67108864);
  REQUIRE(k.max.has_value());
  CHECK(*k.max == 33554432);
  CHECK(k.swap_max == std::optional<uint64_t>(50331648 - 33554432));
  REQUIRE(w.max.has_value());
  CHECK(*w.max == 67108864);
  CHECK(w.swap_max == std::optional<uint64_t>(134217728 - 67108864));
}
