// Renderings shared within Options::share_for (fsd/view/view.h), on this
// machine's own /proc and cgroup tree (readable without root): two renderings
// of /proc/stat for this process, 50 ms of busy CPU apart, are the same text
// inside the window and differ with sharing off; fixture trees never share;
// readers sharing renderings never see a counter go back.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fsd/view/view.h"
#include "lib/base/io.h"

using namespace vproc;

namespace {

const std::string kFixtures = VPROC_FIXTURES;

std::unique_ptr<view::ViewService> live(std::chrono::microseconds share_for) {
  view::Options o;
  o.loadavg = false;
  o.share_for = share_for;
  return std::make_unique<view::ViewService>(
      open_at(AT_FDCWD, "/sys/fs/cgroup", O_RDONLY | O_DIRECTORY),
      open_at(AT_FDCWD, "/proc", O_RDONLY | O_DIRECTORY), o);
}

// Spins for `ms` of wall time: the CPU counters of this process's cgroup and
// of the host move by about ms / 10 ticks.
void spin(int ms) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  volatile unsigned long x = 0;
  while (std::chrono::steady_clock::now() < end) x = x + 1;
}

bool have_cgroups() { return ::access("/sys/fs/cgroup", R_OK | X_OK) == 0; }

}  // namespace

TEST_CASE("share: one rendering per window for the same cgroups, a new one after it") {
  if (!have_cgroups()) {
    MESSAGE("skipped: no /sys/fs/cgroup on this machine");
    return;
  }
  auto shared = live(std::chrono::seconds(10));
  auto own = live(std::chrono::microseconds(0));
  const std::string a = shared->render(FileKind::kStat, ::getpid());
  const std::string b = own->render(FileKind::kStat, ::getpid());
  spin(50);
  CHECK(shared->render(FileKind::kStat, ::getpid()) == a);  // within 10 s: the same text
  CHECK(own->render(FileKind::kStat, ::getpid()) != b);     // the counters moved

  auto brief = live(std::chrono::milliseconds(5));
  const std::string c = brief->render(FileKind::kStat, ::getpid());
  spin(50);
  CHECK(brief->render(FileKind::kStat, ::getpid()) != c);  // past 5 ms: rendered again
}

TEST_CASE("share: different files are not shared") {
  if (!have_cgroups()) {
    MESSAGE("skipped: no /sys/fs/cgroup on this machine");
    return;
  }
  auto shared = live(std::chrono::seconds(10));
  const std::string mem = shared->render(FileKind::kMeminfo, ::getpid());
  const std::string online = shared->render(FileKind::kOnline, ::getpid());
  CHECK(mem.rfind("MemTotal:", 0) == 0);
  CHECK(online.find("MemTotal") == std::string::npos);
  CHECK(shared->render(FileKind::kMeminfo, ::getpid()) == mem);
}

TEST_CASE("share: a fixture tree renders at every call") {
  view::Options o;
  o.loadavg = false;
  o.share_for = std::chrono::seconds(10);
  const std::string root = kFixtures + "/v2";
  view::ViewService fixture(open_at(AT_FDCWD, root + "/cgroup", O_RDONLY | O_DIRECTORY),
                            open_at(AT_FDCWD, root + "/proc", O_RDONLY | O_DIRECTORY), o);
  // The fixture's /proc is a plain directory: share_ stays off, which the
  // renderings cannot show directly; what they can show is that they come.
  CHECK_FALSE(fixture.shares());
  CHECK(live(std::chrono::seconds(10))->shares() == have_cgroups());
}

TEST_CASE("share: readers of the same cgroups never see the counters go back") {
  if (!have_cgroups()) {
    MESSAGE("skipped: no /sys/fs/cgroup on this machine");
    return;
  }
  auto shared = live(std::chrono::microseconds(200));
  // The sum of the first "cpu " line: every reader's own sequence of
  // renderings must not decrease, while 4 readers render and share at once.
  auto total = [](const std::string& stat) {
    unsigned long long sum = 0;
    size_t at = stat.find(' ');
    const size_t end = stat.find('\n');
    while (at < end) {
      sum += std::strtoull(stat.c_str() + at, nullptr, 10);
      at = stat.find(' ', at + 1);
    }
    return sum;
  };
  std::vector<int> backwards(4, 0);
  std::vector<std::thread> readers;
  for (size_t t = 0; t < backwards.size(); ++t) {
    readers.emplace_back([&, t] {
      unsigned long long last = 0;
      for (int i = 0; i < 400; ++i) {
        const unsigned long long now = total(shared->render(FileKind::kStat, ::getpid()));
        if (now < last) ++backwards[t];
        last = std::max(last, now);
      }
    });
  }
  for (auto& r : readers) r.join();
  for (int b : backwards) CHECK(b == 0);
}
