// FdCache (lib/cgroup/fd_cache.h): reads through a root fd, keeps fds open
// only on kernel file systems, re-reads them at offset 0, evicts the oldest.
// The kept fds are observed through /proc/self/fd.
#include "lib/cgroup/fd_cache.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "lib/base/io.h"
#include "lib/base/sys_error.h"

using namespace vproc;
namespace fs = std::filesystem;

namespace {

const std::string kFixtures = VPROC_FIXTURES;

// What this process's open fds point at, one entry per fd.
std::multiset<std::string> open_targets() {
  std::multiset<std::string> out;
  for (const auto& e : fs::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    fs::path target = fs::read_symlink(e.path(), ec);
    if (!ec) out.insert(target.string());
  }
  return out;
}

// A scratch directory on tmpfs, removed at the end of the test.
struct TmpDir {
  TmpDir() {
    char tmpl[] = "/dev/shm/vproc-fdcache.XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
    fd = open_at(AT_FDCWD, path, O_RDONLY | O_DIRECTORY);
  }
  ~TmpDir() { fs::remove_all(path); }
  void put(const std::string& rel, const std::string& text) const {
    fs::create_directories((fs::path(path) / rel).parent_path());
    std::ofstream(fs::path(path) / rel) << text;
  }
  std::string path;
  UniqueFd fd;
};

std::string comm() {
  char name[17] = {};
  ::prctl(PR_GET_NAME, name);
  return name;
}

}  // namespace

TEST_CASE("fd cache: reads through the root fd; a missing file is nullopt") {
  TmpDir tmp;
  tmp.put("memory/x/memory.max", "1048576\n");
  FdCache cache(tmp.fd.get());
  CHECK(cache.read("memory/x/memory.max", "/sys/fs/cgroup/") == "1048576\n");
  CHECK(cache.read("memory/x/memory.high", "/sys/fs/cgroup/") == std::nullopt);
  CHECK(cache.read("memory/y/memory.max", "/sys/fs/cgroup/") == std::nullopt);
  // A file where a directory should be (ENOTDIR): absent too.
  CHECK(cache.read("memory/x/memory.max/z", "/sys/fs/cgroup/") == std::nullopt);
  CHECK(cache.read("memory/x/empty", "") == std::nullopt);
  tmp.put("memory/x/empty", "");
  CHECK(cache.read("memory/x/empty", "") == "");
}

TEST_CASE("fd cache: a file that cannot be read names it with the display prefix") {
  TmpDir tmp;
  tmp.put("memory/x/memory.max", "1\n");
  FdCache cache(tmp.fd.get());
  CHECK_THROWS_WITH_AS(cache.read("memory/x", "/sys/fs/cgroup/"),
                       "read /sys/fs/cgroup/memory/x: Is a directory", SysError);
}

TEST_CASE("fd cache: files larger than one read come whole") {
  TmpDir tmp;
  std::string big;
  for (int i = 0; big.size() < 100000; ++i) big += "line " + std::to_string(i) + "\n";
  tmp.put("big", big);
  FdCache cache(tmp.fd.get());
  CHECK(cache.read("big", "") == big);
}

TEST_CASE("fd cache: files on tmpfs or a fixture tree are read afresh, not kept open") {
  TmpDir tmp;
  tmp.put("memory.max", "100\n");
  FdCache cache(tmp.fd.get());
  UniqueFd fixture = open_at(AT_FDCWD, kFixtures + "/v2/cgroup", O_RDONLY | O_DIRECTORY);
  FdCache fixture_cache(fixture.get());
  const auto before = open_targets();
  CHECK(cache.read("memory.max", "") == "100\n");
  CHECK(open_targets() == before);
  // Rewritten in place, and replaced by a new file: both seen.
  tmp.put("memory.max", "200\n");
  CHECK(cache.read("memory.max", "") == "200\n");
  tmp.put("memory.max.new", "300\n");
  fs::rename(tmp.path + "/memory.max.new", tmp.path + "/memory.max");
  CHECK(cache.read("memory.max", "") == "300\n");
  fs::remove(tmp.path + "/memory.max");
  CHECK(cache.read("memory.max", "") == std::nullopt);
  CHECK(fixture_cache.read("limited/memory.max", "") == "268435456\n");
  CHECK(open_targets() == before);
}

TEST_CASE("fd cache: kernel_generated is true on procfs only among these") {
  UniqueFd proc = open_at(AT_FDCWD, "/proc/uptime", O_RDONLY);
  CHECK(FdCache::kernel_generated(proc.get()));
  TmpDir tmp;
  tmp.put("f", "x");
  UniqueFd shm = open_at(AT_FDCWD, tmp.path + "/f", O_RDONLY);
  CHECK_FALSE(FdCache::kernel_generated(shm.get()));
  CHECK_FALSE(FdCache::kernel_generated(tmp.fd.get()));
  UniqueFd fixture = open_at(AT_FDCWD, kFixtures + "/v2/proc/meminfo", O_RDONLY);
  CHECK_FALSE(FdCache::kernel_generated(fixture.get()));
  CHECK_FALSE(FdCache::kernel_generated(-1));
}

TEST_CASE("fd cache: a procfs file stays open and a re-read sees what changed") {
  UniqueFd proc = open_at(AT_FDCWD, "/proc", O_RDONLY | O_DIRECTORY);
  FdCache cache(proc.get());
  const std::string saved = comm();
  const std::string path = "/proc/" + std::to_string(::getpid()) + "/comm";
  ::prctl(PR_SET_NAME, "vproc-fdc-one");
  const auto before = open_targets();
  CHECK(cache.read("self/comm", "/proc/") == "vproc-fdc-one\n");
  auto after = open_targets();
  CHECK(after.size() == before.size() + 1);
  CHECK(after.count(path) == before.count(path) + 1);
  // The same fd, read again at offset 0: the new name, and no new fd.
  ::prctl(PR_SET_NAME, "vproc-fdc-two");
  CHECK(cache.read("self/comm", "/proc/") == "vproc-fdc-two\n");
  CHECK(open_targets() == after);
  ::prctl(PR_SET_NAME, saved.c_str());
}

TEST_CASE("fd cache: past its limit the oldest fd is closed") {
  UniqueFd proc = open_at(AT_FDCWD, "/proc", O_RDONLY | O_DIRECTORY);
  FdCache cache(proc.get(), 2);
  auto kept = [] {
    std::set<std::string> out;
    for (const std::string& t : open_targets()) {
      if (t == "/proc/uptime" || t == "/proc/loadavg" || t == "/proc/version") out.insert(t);
    }
    return out;
  };
  REQUIRE(kept().empty());
  CHECK(cache.read("uptime", "/proc/").has_value());
  CHECK(cache.read("loadavg", "/proc/").has_value());
  CHECK(kept() == std::set<std::string>{"/proc/uptime", "/proc/loadavg"});
  CHECK(cache.read("version", "/proc/").has_value());
  CHECK(kept() == std::set<std::string>{"/proc/loadavg", "/proc/version"});
  CHECK(cache.read("loadavg", "/proc/").has_value());  // kept: nothing moves
  CHECK(kept() == std::set<std::string>{"/proc/loadavg", "/proc/version"});
  CHECK(cache.read("uptime", "/proc/").has_value());  // opened again; loadavg was first in
  CHECK(kept() == std::set<std::string>{"/proc/version", "/proc/uptime"});
}

TEST_CASE("fd cache: concurrent readers of the same files share one fd each") {
  UniqueFd proc = open_at(AT_FDCWD, "/proc", O_RDONLY | O_DIRECTORY);
  FdCache cache(proc.get());
  const char* files[] = {"version", "cmdline", "filesystems"};
  const std::string version = *read_file_at(proc.get(), "version");
  std::vector<int> bad(4, 0);
  std::vector<std::thread> threads;
  for (size_t n = 0; n < bad.size(); ++n) {
    threads.emplace_back([&, n] {
      for (int i = 0; i < 500; ++i) {
        auto got = cache.read(files[static_cast<size_t>(i) % 3], "/proc/");
        if (!got || got->empty()) ++bad[n];
        if (i % 3 == 0 && got != version) ++bad[n];
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int b : bad) CHECK(b == 0);
  const auto targets = open_targets();
  CHECK(targets.count("/proc/version") == 1);
  CHECK(targets.count("/proc/filesystems") == 1);
}

TEST_CASE("fd cache: one-record files are the single_open ones and cgroup control files") {
  for (const char* rel : {"meminfo", "stat", "uptime", "loadavg", "memory/a/memory.stat",
                          "cpu,cpuacct/a/b/cpuacct.usage_all", "unified/a/cpu.pressure"}) {
    CHECK_MESSAGE(FdCache::one_record(rel), rel);
  }
  // Lists the kernel hands out a record (a line, a CPU) at a time: a short
  // read is a page, not the end.
  for (const char* rel : {"cpuinfo", "diskstats", "swaps", "pressure/cpu", "memory/a/cgroup.procs",
                          "cpu/a/cgroup.threads", "cpu/a/tasks", "memory.stat"}) {
    CHECK_FALSE_MESSAGE(FdCache::one_record(rel), rel);
  }
}

TEST_CASE("pread_file: one_record reads a single_open file whole in one read") {
  UniqueFd fd = open_at(AT_FDCWD, "/proc/meminfo", O_RDONLY);
  std::string one, all;
  REQUIRE(pread_file(fd.get(), one, /*one_record=*/true));
  REQUIRE(pread_file(fd.get(), all));
  auto keys = [](const std::string& text) {
    std::vector<std::string> out;
    size_t at = 0;
    while (at < text.size()) {
      size_t nl = text.find('\n', at);
      out.push_back(text.substr(at, text.find(':', at) - at));
      at = nl == std::string::npos ? text.size() : nl + 1;
    }
    return out;
  };
  CHECK(one.back() == '\n');
  CHECK(keys(one) == keys(all));  // the values move between the reads; the lines do not
}
