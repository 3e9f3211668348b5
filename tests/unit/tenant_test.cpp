// Fair shares between tenants (issue #17): the per-tenant quota on open
// handles and bytes held (fsd/fuse/handles.h, checked by do_open before
// rendering), and the tables one tenant could fill or churn: counter state
// (fsd/view/counter_table.h) and the loadavg table (fsd/view/loadavg.h).
// Readers are fixture pids (tests/fixtures/README.md): 101 is in /limited,
// 103 in /unlimited, 104 in /malformed (whose meminfo does not render).
#include <doctest/doctest.h>
#include <fcntl.h>

#include <cerrno>
#include <string>
#include <vector>

#include "fsd/fuse/handles.h"
#include "fsd/fuse/ops.h"
#include "fsd/view/counter_table.h"
#include "fsd/view/loadavg.h"
#include "lib/base/io.h"

using namespace vproc;
using vproc::fuse::HandleQuota;
using vproc::fuse::HandleTable;

namespace {

const std::string kFixtures = VPROC_FIXTURES;
constexpr FileKind kAny = FileKind::kMeminfo;

HandleQuota quota(size_t max_open, size_t tenant_open, size_t tenant_bytes) {
  HandleQuota q;
  q.max_open = max_open;
  q.tenant_open = tenant_open;
  q.tenant_bytes = tenant_bytes;
  return q;
}

unsigned long ino_of(const fuse::FsContext& c, const std::string& dir, const std::string& file) {
  fuse::Result<fuse::Entry> d = fuse::do_lookup(c, 1, dir);
  REQUIRE(d.err() == 0);
  fuse::Result<fuse::Entry> f = fuse::do_lookup(c, d->ino, file);
  REQUIRE(f.err() == 0);
  return f->ino;
}

}  // namespace

TEST_CASE("tenant share: an eighth of --max-open, at least 64, at most 4096") {
  CHECK(HandleQuota::for_max_open(65536).tenant_open == 4096);
  CHECK(HandleQuota::for_max_open(65536).max_open == 65536);
  CHECK(HandleQuota::for_max_open(2048).tenant_open == 256);
  CHECK(HandleQuota::for_max_open(64).tenant_open == 64);
  CHECK(HandleQuota::for_max_open(8).tenant_open == 64);  // the global cap refuses first
  CHECK(HandleQuota::for_max_open(65536).tenant_bytes == 16u << 20);
}

TEST_CASE("tenant share: handles past a tenant's share are EMFILE, logged once; others go on") {
  HandleTable t;
  const HandleQuota q = quota(100, 3, 1 << 20);
  std::vector<uint64_t> a;
  for (int i = 0; i < 3; ++i) {
    HandleTable::Reserved r = t.reserve("a", kAny, q);
    REQUIRE(r.err == 0);
    a.push_back(r.id);
  }
  HandleTable::Reserved refused = t.reserve("a", kAny, q);
  CHECK(refused.id == 0);
  CHECK(refused.err == EMFILE);
  CHECK(refused.first_refusal);
  CHECK_FALSE(t.reserve("a", kAny, q).first_refusal);  // once per tenant
  CHECK(t.reserve("b", kAny, q).err == 0);             // another tenant is not refused
  CHECK(t.use_of("a").open == 3);
  t.remove(a[0]);
  CHECK(t.reserve("a", kAny, q).err == 0);  // a release gives the slot back
  CHECK(t.size() == 4);
}

TEST_CASE("tenant share: bytes held count the content; past the share EMFILE before rendering") {
  HandleTable t;
  const HandleQuota q = quota(100, 100, 1000);
  HandleTable::Reserved r = t.reserve("a", kAny, q);
  REQUIRE(r.err == 0);
  CHECK(t.use_of("a").bytes == 0);  // reserved: nothing rendered yet
  t.replace(r.id, std::string(600, 'x'));
  CHECK(t.use_of("a").bytes == 600);
  HandleTable::Reserved r2 = t.reserve("a", kAny, q);
  REQUIRE(r2.err == 0);
  t.replace(r2.id, std::string(500, 'y'));
  CHECK(t.reserve("a", kAny, q).err == EMFILE);  // 1100 bytes held
  CHECK(t.reserve("b", kAny, q).err == 0);
  t.replace(r2.id, "short");  // rendered again, smaller
  CHECK(t.use_of("a").bytes == 605);
  t.remove(r.id);
  t.remove(r2.id);
  CHECK(t.use_of("a").open == 0);
  CHECK(t.use_of("a").bytes == 0);
  CHECK_FALSE(t.use_of("a").refused);  // forgotten once it holds nothing
}

TEST_CASE("tenant share: the global cap is ENFILE, whoever asks") {
  HandleTable t;
  const HandleQuota q = quota(2, 10, 1 << 20);
  CHECK(t.reserve("a", kAny, q).err == 0);
  CHECK(t.reserve("b", kAny, q).err == 0);
  CHECK(t.reserve("c", kAny, q).err == ENFILE);
}

TEST_CASE("do_open: a tenant past its share is refused with EMFILE before rendering") {
  view::Options o;
  o.loadavg_interval = std::chrono::hours(1);
  const std::string root = kFixtures + "/v2";
  view::ViewService views(open_at(AT_FDCWD, root + "/cgroup", O_RDONLY | O_DIRECTORY),
                          open_at(AT_FDCWD, root + "/proc", O_RDONLY | O_DIRECTORY), o);
  fuse::FsContext c{&views, fuse::Tree(true), 30.0, {1764201600, 5}, 1024, {}};
  const size_t share = HandleQuota::for_max_open(1024).tenant_open;
  REQUIRE(share == 128);
  const unsigned long uptime = ino_of(c, "proc", "uptime");
  const unsigned long meminfo = ino_of(c, "proc", "meminfo");
  // /malformed's meminfo fails to render (EIO); its uptime renders.
  CHECK_THROWS(fuse::do_open(c, meminfo, O_RDONLY, 104));
  for (size_t i = 0; i < share; ++i) REQUIRE(fuse::do_open(c, uptime, O_RDONLY, 104).err() == 0);
  // Refused before rendering: EMFILE, not the rendering's error.
  CHECK(fuse::do_open(c, meminfo, O_RDONLY, 104).err() == EMFILE);
  CHECK(fuse::do_open(c, uptime, O_RDONLY, 104).err() == EMFILE);
  // Another cgroup is not refused.
  fuse::Result<uint64_t> other = fuse::do_open(c, meminfo, O_RDONLY, 101);
  CHECK(other.err() == 0);
  CHECK(c.handles.size() == share + 1);
}

TEST_CASE("counter state: a cgroup churning containers evicts only its own") {
  view::CounterTable t;
  t.with("cpuacct:/victim", "1@100", [](core::CounterState&) { return 0; });
  for (int i = 0; i < 20000; ++i) {
    t.with("cpuacct:/attacker", std::to_string(i) + "@1", [](core::CounterState&) { return 0; });
  }
  CHECK(t.contains("cpuacct:/victim", "1@100"));
  CHECK(t.size() == 1 + view::CounterTable::kPerGroup);
  CHECK(t.contains("cpuacct:/attacker", "19999@1"));
  CHECK_FALSE(t.contains("cpuacct:/attacker", "0@1"));
}

TEST_CASE("counter state: past kMaxStates the least recently read cgroups go, not a clear") {
  view::CounterTable t;
  auto touch = [&](const std::string& g) {
    t.with(g, "1@1", [](core::CounterState&) { return 0; });
  };
  touch("hot");
  for (size_t i = 0; i < view::CounterTable::kMaxStates + 100; ++i) {
    touch("g" + std::to_string(i));
    if (i % 64 == 0) touch("hot");  // read now and then
  }
  CHECK(t.size() <= view::CounterTable::kMaxStates);
  CHECK(t.size() > view::CounterTable::kMaxStates / 2);
  CHECK(t.contains("hot", "1@1"));
  CHECK_FALSE(t.contains("g0", "1@1"));
}

TEST_CASE("loadavg table: full, it evicts the least recently read, never a followed cgroup") {
  const std::string root = kFixtures + "/v2";
  cgroup::CgroupReader cgroups(open_at(AT_FDCWD, root + "/cgroup", O_RDONLY | O_DIRECTORY));
  UniqueFd proc = open_at(AT_FDCWD, root + "/proc", O_RDONLY | O_DIRECTORY);
  view::LoadTracker load(cgroups, proc.get(), std::chrono::hours(1));
  auto place = [&](const std::string& path) { return cgroup::Place{"", path, true}; };
  load.follow(place("/followed"));
  load.read(place("/limited"));
  for (size_t i = 0; i < view::LoadTracker::kMaxTracked + 10; ++i) {
    load.read(place("/x" + std::to_string(i)));
  }
  CHECK(load.tracked() == view::LoadTracker::kMaxTracked);
  // The newest is there, the followed one too (reading it now adds nothing).
  load.read(place("/followed"));
  CHECK(load.tracked() == view::LoadTracker::kMaxTracked);
  // A read answers from the table: the fixture's /limited has one task, 4242.
  view::LoadTracker::Sample s = load.read(place("/limited"));
  CHECK(s.total == 1);
  CHECK(s.newest == std::vector<pid_t>{4242});
}
