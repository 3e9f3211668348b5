// Tier 1: parsers and renderers on string literals and structs.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "lib/base/io.h"
#include "lib/base/sys_error.h"
#include "lib/core/parse.h"
#include "lib/core/render.h"
#include "lib/core/text.h"

using namespace vproc::core;

TEST_CASE("cpu lists parse and format") {
  CHECK(parse_cpu_list("0-3,5,7-8\n") == std::vector<int>{0, 1, 2, 3, 5, 7, 8});
  CHECK(parse_cpu_list("") == std::vector<int>{});
  CHECK(parse_cpu_list("3,1,2") == std::vector<int>{1, 2, 3});
  CHECK(format_cpu_list({0, 1, 2, 3, 5, 7, 8}) == "0-3,5,7-8");
  CHECK(format_cpu_list({1}) == "1");
  CHECK(parse_cpu_list("2-4,0-3,3") == std::vector<int>{0, 1, 2, 3, 4});
  std::string many;
  for (int i = 0; i < 511; ++i) many += "0-65535,";  // found by the cpu_list fuzzer: once slow
  CHECK(parse_cpu_list(many).size() == 65536);
  CHECK_THROWS_AS(parse_cpu_list("3-1"), vproc::SysError);
  CHECK_THROWS_AS(parse_cpu_list("a"), vproc::SysError);
}

TEST_CASE("limits: max, -1 and v1's huge value mean no limit") {
  CHECK_FALSE(parse_limit("max\n", "f").has_value());
  CHECK_FALSE(parse_limit("-1", "f").has_value());
  CHECK_FALSE(parse_limit("9223372036854771712\n", "f").has_value());
  CHECK(parse_limit("314572800\n", "f") == 314572800ULL);
  CHECK_THROWS_AS(parse_limit("lots", "f"), vproc::SysError);
  CHECK_FALSE(parse_cpu_max("max 100000\n", "f").has_value());
  auto q = parse_cpu_max("50000 100000\n", "f");
  REQUIRE(q);
  CHECK(q->quota_us == 50000);
  CHECK(q->period_us == 100000);
  CHECK_THROWS_AS(parse_cpu_max("50000", "f"), vproc::SysError);
  CHECK_THROWS_AS(parse_cpu_max("5 0", "f"), vproc::SysError);
}

TEST_CASE("/proc/<pid>/cgroup: v1 controllers, named hierarchies, the v2 line") {
  auto pc =
      parse_proc_cgroup("12:pids:/a\n4:cpu,cpuacct:/b/c\n1:name=systemd:/x\n0::/u\n", "cgroup");
  CHECK(pc.v1.at("pids") == "/a");
  CHECK(pc.v1.at("cpu") == "/b/c");
  CHECK(pc.v1.at("cpuacct") == "/b/c");
  CHECK(pc.v1.count("name=systemd") == 0);
  CHECK(pc.unified == "/u");
  CHECK_THROWS_AS(parse_proc_cgroup("garbage\n", "cgroup"), vproc::SysError);
}

TEST_CASE("/proc/<pid>/stat: a command name with spaces and parentheses") {
  auto s =
      parse_pid_stat("42 (a) b (c)) R 7 42 42 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 12345 0 0", "stat");
  CHECK(s.state == 'R');
  CHECK(s.ppid == 7);
  CHECK(s.starttime == 12345);
  CHECK_THROWS_AS(parse_pid_stat("42 (a) R 1", "stat"), vproc::SysError);
  // try_parse_pid_stat is the same parser without the exception.
  auto t = try_parse_pid_stat("1 (init) S -1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99\n");
  REQUIRE(t.has_value());
  CHECK(t->state == 'S');
  CHECK(t->ppid == 0);  // negative: none
  CHECK(t->starttime == 99);
  CHECK_FALSE(try_parse_pid_stat("no parenthesis 1 2 3").has_value());
  CHECK_FALSE(try_parse_pid_stat("1 (x) SS 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99").has_value());
  CHECK_FALSE(try_parse_pid_stat("1 (x) S p 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99").has_value());
  CHECK_FALSE(try_parse_pid_stat("1 (x) S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 9x").has_value());
  // Tabs separate fields like spaces (one tokenizer, one whitespace set).
  CHECK(try_parse_pid_stat("1 (x)\tS 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0\t7")->starttime == 7);
}

TEST_CASE("tokenizer: pieces, lines, whitespace tokens") {
  using V = std::vector<std::string_view>;
  CHECK(split("a,,b,", ',') == V{"a", "", "b"});
  CHECK(split(",a", ',') == V{"", "a"});
  CHECK(split("", ',').empty());
  V lines;
  for_each_line("one\n\nthree\n", [&](std::string_view l) { lines.push_back(l); });
  CHECK(lines == V{"one", "", "three"});
  CHECK(split_ws(" a\tb\r\n c\v\fd  ") == V{"a", "b", "c", "d"});
  CHECK(split_ws(" \t\n").empty());
  std::string_view rest = "  key   42 kB";
  CHECK(next_token(&rest) == "key");
  CHECK(next_token(&rest) == "42");
  CHECK(next_token(&rest) == "kB");
  CHECK(next_token(&rest).empty());
  // trim() strips exactly the tokenizer's whitespace.
  CHECK(vproc::trim("\r\n\t x y \v\f") == "x y");
  CHECK(vproc::parse_u64(" 12\r\n") == 12u);
}

namespace {

std::filesystem::path scratch_file(const char* name, off_t size) {
  auto p = std::filesystem::temp_directory_path() /
           (std::string(name) + "-" + std::to_string(::getpid()));
  std::ofstream(p).close();
  std::filesystem::resize_file(p, static_cast<uintmax_t>(size));  // sparse: cheap
  return p;
}

}  // namespace

TEST_CASE("the whole-file reader: one limit, EFBIG above it") {
  auto at = scratch_file("vproc-reader-at-limit", static_cast<off_t>(vproc::kMaxFileSize));
  auto over = scratch_file("vproc-reader-over-limit", static_cast<off_t>(vproc::kMaxFileSize) + 1);
  auto text = vproc::read_file_at(AT_FDCWD, at.string());
  REQUIRE(text.has_value());
  CHECK(text->size() == vproc::kMaxFileSize);
  try {
    vproc::read_file_at(AT_FDCWD, over.string());
    FAIL("a file over the limit was read");
  } catch (const vproc::SysError& e) {
    CHECK(e.err() == EFBIG);
  }
  vproc::UniqueFd fd = vproc::open_at(AT_FDCWD, over.string(), O_RDONLY);
  std::string out;
  errno = 0;
  CHECK_FALSE(vproc::pread_file(fd.get(), out));
  CHECK(errno == EFBIG);
  std::filesystem::remove(at);
  std::filesystem::remove(over);
  CHECK_FALSE(vproc::read_file_at(AT_FDCWD, at.string()).has_value());
}

TEST_CASE("the whole-file reader: a short read is not the end of a seq_file") {
  // /proc/self/maps hands out at most a page per read; with a few hundred
  // mappings it is several pages long, and the last mapping made is in it.
  std::vector<void*> maps;
  for (int i = 0; i < 300; ++i) {
    // Alternating protections keep neighbours from merging into one line.
    void* m = ::mmap(nullptr, 4096, i % 2 ? PROT_READ : PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(m != MAP_FAILED);
    maps.push_back(m);
  }
  char last[32];
  std::snprintf(last, sizeof last, "%lx-", reinterpret_cast<unsigned long>(maps.back()));
  auto text = vproc::read_file_at(AT_FDCWD, "/proc/self/maps");
  for (void* m : maps) ::munmap(m, 4096);
  REQUIRE(text.has_value());
  CHECK(text->size() > 3 * 4096);
  CHECK(text->find(last) != std::string::npos);
  CHECK(text->back() == '\n');
}

TEST_CASE("v1 memory.stat maps exact hierarchical keys, never prefixes") {
  auto kv = parse_flat_keyed(
      "rss 1\nrss_huge 2\nmapped_file 3\ntotal_rss 10\ntotal_rss_huge 20\n"
      "total_mapped_file 30\ntotal_cache 40\n",
      "memory.stat");
  auto v2 = v1_memory_stat_to_v2(kv);
  CHECK(v2.at("anon") == 10);
  CHECK(v2.at("anon_thp") == 20);
  CHECK(v2.at("file_mapped") == 30);
  CHECK(v2.at("file") == 40);
  CHECK_THROWS_AS(parse_flat_keyed("cache\n", "memory.stat"), vproc::SysError);
}

TEST_CASE("I/O counters from v1 blkio and v2 io.stat agree") {
  auto v1 = parse_blkio_v1("8:0 Read 4096\n8:0 Write 8192\n8:0 Discard 0\nTotal 12288\n",
                           "8:0 Read 1\n8:0 Write 2\n8:0 Total 3\nTotal 3\n", "blkio");
  auto v2 = parse_io_stat("8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0 x=1\n", "io");
  REQUIRE(v1.count("8:0"));
  REQUIRE(v2.count("8:0"));
  CHECK(v1["8:0"].rbytes == v2["8:0"].rbytes);
  CHECK(v1["8:0"].wios == v2["8:0"].wios);
  CHECK(v2["8:0"].rios == 1);
  CHECK_THROWS_AS(parse_io_stat("8:0 rbytes\n", "io"), vproc::SysError);
}

TEST_CASE("visible CPUs: cpuset ids, quota view takes the first ceil(quota/period)") {
  std::vector<int> host = {0, 1, 2, 3};
  CpuLimits l;
  CHECK(visible_cpus(host, l, CpuView::kQuota) == host);
  l.cpuset = std::vector<int>{1, 3};
  CHECK(visible_cpus(host, l, CpuView::kQuota) == std::vector<int>{1, 3});
  l.quota = CpuQuota{50000, 100000};
  CHECK(visible_cpus(host, l, CpuView::kQuota) == std::vector<int>{1});
  CHECK(visible_cpus(host, l, CpuView::kCpuset) == std::vector<int>{1, 3});
  l.quota = CpuQuota{150000, 100000};
  CHECK(visible_cpus(host, l, CpuView::kQuota) == std::vector<int>{1, 3});
  l.quota = CpuQuota{800000, 100000};  // more than the cpuset: never more than the cpuset
  CHECK(visible_cpus(host, l, CpuView::kQuota) == std::vector<int>{1, 3});
  // No online CPU at all (never on a real kernel; found by the fuzzer): none.
  CHECK(
      visible_cpus({}, CpuLimits{std::nullopt, CpuQuota{100000, 100000}}, CpuView::kQuota).empty());
  l.cpuset = std::vector<int>{7};  // offline only: fall back to the host's
  l.quota.reset();
  CHECK(visible_cpus(host, l, CpuView::kQuota) == host);
}

TEST_CASE("cpu times fold invisible CPUs, never go back, idle never negative") {
  CounterState st;
  CpuReadings u;
  u.per_cpu[0] = {1'000'000'000, 0};
  u.per_cpu[1] = {2'000'000'000, 500'000'000};
  auto t = cpu_times(u, {1}, 1000, st);
  REQUIRE(t.size() == 1);
  CHECK(t[1].user == 300);  // own 200 ticks + folded 100
  CHECK(t[1].system == 50);
  CHECK(t[1].idle == 650);
  // Usage drops (a new cgroup with the same path): shown values stay.
  u.per_cpu[1] = {0, 0};
  auto t2 = cpu_times(u, {1}, 1001, st);
  CHECK(t2[1].user == 300);
  CHECK(t2[1].system == 50);
  CHECK(t2[1].idle >= 650);
  // Busy beyond the age: idle is 0, not a wrapped huge number.
  CounterState fresh;
  CpuReadings busy;
  busy.total = {100'000'000'000, 0};
  auto t3 = cpu_times(busy, {0, 1}, 10, fresh);
  CHECK(t3[0].idle == 0);
  CHECK(t3[0].user == 5000);
  CHECK(t3[1].user == 5000);
}

TEST_CASE("stat: the cpu line is the sum of the cpuN lines; other lines stay") {
  std::map<int, CpuTimes> times = {{1, {10, 2, 100}}, {3, {5, 1, 200}}};
  std::string s = render_stat("cpu  1 2 3 4 5 6 7 8 9 10\ncpu0 1\ncpu1 1\nbtime 77\n", times);
  CHECK(s ==
        "cpu  15 0 3 300 0 0 0 0 0 0\ncpu1 10 0 2 100 0 0 0 0 0 0\n"
        "cpu3 5 0 1 200 0 0 0 0 0 0\nbtime 77\n");
}

TEST_CASE("uptime: container age and idle summed over visible CPUs") {
  std::map<int, CpuTimes> times = {{0, {0, 0, 150}}, {2, {0, 0, 51}}};
  CHECK(render_uptime(1234, times) == "12.34 2.01\n");
}

TEST_CASE("meminfo: limit, usage, clamps and exact replacement") {
  const std::string host =
      "MemTotal:        8000000 kB\nMemFree:         5000000 kB\nMemAvailable:    7000000 kB\n"
      "Cached:          1000000 kB\nSwapTotal:       2000000 kB\nSwapFree:        2000000 kB\n"
      "Mlocked:              7 kB\nHugePages_Total:       0\n";
  MemoryReadings m;
  CHECK(render_meminfo(host, m) == host);  // no limit: the host's file
  m.max = 16'000'000'000ULL;               // above the host's memory: also no limit
  CHECK(render_meminfo(host, m) == host);
  m.max = 300ULL << 20;
  m.current = 100ULL << 20;
  m.stat = {{"file", 40ULL << 20}, {"active_file", 10ULL << 20}, {"inactive_file", 20ULL << 20}};
  auto lines = parse_meminfo(render_meminfo(host, m), "out");
  CHECK(meminfo_value(lines, "MemTotal") == 307200);
  CHECK(meminfo_value(lines, "MemFree") == 204800);
  CHECK(meminfo_value(lines, "MemAvailable") == 204800 + 30720);
  CHECK(meminfo_value(lines, "Cached") == 40960);
  CHECK(meminfo_value(lines, "SwapTotal") == 2000000);  // no swap limit: the host's swap
  CHECK(meminfo_value(lines, "Mlocked") == 7);          // unknown to the cgroup: the host's
  CHECK(render_meminfo(host, m).find("MemTotal:         307200 kB\n") == 0);
  m.current = 400ULL << 20;  // over the limit
  lines = parse_meminfo(render_meminfo(host, m), "out");
  CHECK(meminfo_value(lines, "MemFree") == 0);
  CHECK(*meminfo_value(lines, "MemAvailable") <= 307200);
  m.swap_max = 100ULL << 20;
  m.swap_current = 150ULL << 20;  // swap over its limit: free clamps too
  lines = parse_meminfo(render_meminfo(host, m), "out");
  CHECK(meminfo_value(lines, "SwapTotal") == 102400);
  CHECK(meminfo_value(lines, "SwapFree") == 0);
}

TEST_CASE("swaps agrees with meminfo") {
  const std::string host_mem = "MemTotal: 8000000 kB\nSwapTotal: 2000000 kB\nSwapFree: 1 kB\n";
  const std::string host_swaps =
      "Filename\tType\tSize\tUsed\tPriority\n/swapfile file 2000000 0 -2\n";
  MemoryReadings m;
  CHECK(render_swaps(host_swaps, host_mem, m) == host_swaps);
  m.max = 1ULL << 30;
  m.swap_max = 512ULL << 20;
  m.swap_current = 1ULL << 20;
  auto s = render_swaps(host_swaps, host_mem, m);
  CHECK(s.find("none") != std::string::npos);
  CHECK(s.find("\t524288\t") != std::string::npos);
  CHECK(s.find("\t1024\t") != std::string::npos);
  m.swap_max = 0;
  CHECK(render_swaps(host_swaps, host_mem, m) == "Filename\tType\tSize\tUsed\tPriority\n");
}

TEST_CASE("cpuinfo keeps the visible CPUs' blocks with their ids") {
  std::string host =
      "processor\t: 0\nx\t: a\n\nprocessor\t: 1\nx\t: b\n\nprocessor\t: 2\nx\t: c\n\n";
  CHECK(render_cpuinfo(host, {1}) == "processor\t: 1\nx\t: b\n\n");
  CHECK(render_cpuinfo(host, {0, 2}) == "processor\t: 0\nx\t: a\n\nprocessor\t: 2\nx\t: c\n\n");
  CHECK(render_online({0, 2, 3}) == "0,2-3\n");
}

// Two packages; package 0 has cores 0 and 1 with two threads each (CPUs 0-3),
// package 1 has one core (CPU 4), as a host's /proc/cpuinfo lays them out.
std::string two_package_cpuinfo() {
  std::string out;
  const int package[] = {0, 0, 0, 0, 1};
  const int core[] = {0, 0, 1, 1, 0};
  for (int cpu = 0; cpu < 5; ++cpu) {
    out += "processor\t: " + std::to_string(cpu) +
           "\nphysical id\t: " + std::to_string(package[cpu]) +
           "\nsiblings\t: " + (package[cpu] ? "1" : "4") +
           "\ncore id\t\t: " + std::to_string(core[cpu]) +
           "\ncpu cores\t: " + (package[cpu] ? "1" : "2") + "\nflags\t\t: fpu\n\n";
  }
  return out;
}

TEST_CASE("cpuinfo: siblings and cpu cores count the CPUs shown of each package") {
  std::string host = two_package_cpuinfo();
  CHECK(render_cpuinfo(host, {0, 1, 2, 3, 4}) == host);
  std::string one = render_cpuinfo(host, {1});
  CHECK(one ==
        "processor\t: 1\nphysical id\t: 0\nsiblings\t: 1\ncore id\t\t: 0\n"
        "cpu cores\t: 1\nflags\t\t: fpu\n\n");
  // Both threads of core 0 and one of core 1: three siblings on two cores.
  std::string three = render_cpuinfo(host, {0, 1, 2});
  CHECK(three.find("siblings\t: 4") == std::string::npos);
  size_t n = 0;
  for (size_t p = 0; (p = three.find("siblings\t: 3\ncore id", p)) != std::string::npos; ++p) ++n;
  CHECK(n == 3);
  CHECK(three.find("cpu cores\t: 2\n") != std::string::npos);
  CHECK(three.find("cpu cores\t: 1\n") == std::string::npos);
  // Package 1 on its own keeps its one core; package 0's CPU 3 alone has one.
  std::string split = render_cpuinfo(host, {3, 4});
  CHECK(split.find("processor\t: 3\nphysical id\t: 0\nsiblings\t: 1\n") != std::string::npos);
  CHECK(split.find("processor\t: 4\nphysical id\t: 1\nsiblings\t: 1\n") != std::string::npos);
  CHECK(split.find("cpu cores\t: 2") == std::string::npos);
}

TEST_CASE("online_cpus_of_stat lists the cpuN lines") {
  CHECK(online_cpus_of_stat("cpu  1 2 3\ncpu0 1 2 3\ncpu3 4 5 6\nintr 5\nctxt 1\n") ==
        std::vector<int>{0, 3});
  CHECK(online_cpus_of_stat("cpu  1 2\ncpux 1\ncpu99999999999 1\n").empty());
}

TEST_CASE("diskstats: cgroup counters, zeros for untouched devices, never back") {
  std::string host =
      "   8       0 sda 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21\n"
      "   7       0 loop0 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1\n";
  CounterState st;
  IoReadings io;
  io["8:0"] = IoStat{1024, 2048, 3, 4, 512, 1};
  std::string out = render_diskstats(host, io, st);
  CHECK(out ==
        "   8       0 sda 3 0 2 0 4 0 4 0 0 0 0 1 0 1 0 0 0\n"
        "   7       0 loop0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n");
  io["8:0"] = IoStat{};
  CHECK(render_diskstats(host, io, st) == out);
}

TEST_CASE("loadavg: the kernel's fixed-point averages and format") {
  uint64_t a = 0;
  for (int i = 0; i < 60; ++i) a = calc_load(a, kLoadExp[0], 1 * kFixed1);
  // Five minutes of one runnable task: 1 - e^-5 = 0.993 on the 1-minute average.
  CHECK(a > 2020);
  CHECK(a <= kFixed1);
  LoadAvg l;
  l.avg = {2027, 0, kFixed1 * 2};  // 2027/2048 = 0.9897, shown 0.99 as the kernel rounds
  l.running = 1;
  l.total = 3;
  l.last_pid = 42;
  CHECK(render_loadavg(l) == "0.99 0.00 2.00 1/3 42\n");
  CHECK(calc_load(0, kLoadExp[0], 0) == 0);
}
