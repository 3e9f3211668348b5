// The handle table of open files (fsd/fuse/handles.h).
#include "fsd/fuse/handles.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <set>
#include <string>
#include <thread>
#include <vector>

using vproc::fuse::HandleTable;
constexpr vproc::FileKind kAny = vproc::FileKind::kMeminfo;

namespace {
// A handle holding `data` while fewer than `max` are open (one tenant, no
// share of its own), as ops.cpp opens one: reserve, then replace.
uint64_t add(HandleTable& t, std::string data, size_t max) {
  vproc::fuse::HandleQuota q;
  q.max_open = max;
  q.tenant_open = max;
  q.tenant_bytes = SIZE_MAX;
  const HandleTable::Reserved r = t.reserve("tenant", kAny, q);
  if (r.id != 0) t.replace(r.id, std::move(data));
  return r.id;
}
}  // namespace

TEST_CASE("handles: reserve and replace, get, remove") {
  HandleTable t;
  CHECK(t.size() == 0);
  uint64_t a = add(t, "alpha", 10);
  uint64_t b = add(t, "beta", 10);
  CHECK(a != 0);
  CHECK(b != 0);
  CHECK(a != b);
  CHECK(t.size() == 2);
  REQUIRE(t.get(a) != nullptr);
  CHECK(*t.get(a) == "alpha");
  CHECK(*t.get(b) == "beta");
  CHECK(t.get(0) == nullptr);
  CHECK(t.get(b + 100) == nullptr);

  t.remove(a);
  CHECK(t.get(a) == nullptr);
  CHECK(*t.get(b) == "beta");
  CHECK(t.size() == 1);
  t.remove(a);  // unknown ids are ignored
  t.remove(9999);
  CHECK(t.size() == 1);
}

TEST_CASE("handles: content handed out outlives its removal") {
  HandleTable t;
  uint64_t id = add(t, std::string(100000, 'x'), 10);
  std::shared_ptr<const std::string> held = t.get(id);
  t.remove(id);
  REQUIRE(held != nullptr);
  CHECK(held->size() == 100000);
  CHECK(held->back() == 'x');
}

TEST_CASE("handles: the limit refuses with 0 and frees up on remove") {
  HandleTable t;
  uint64_t a = add(t, "a", 2);
  uint64_t b = add(t, "b", 2);
  CHECK(add(t, "c", 2) == 0);
  CHECK(t.size() == 2);
  CHECK(add(t, "c", 3) != 0);  // the limit is the caller's, per call
  CHECK(add(t, "d", 3) == 0);
  t.remove(a);
  t.remove(b);
  CHECK(add(t, "e", 2) != 0);
  CHECK(add(t, "f", 0) == 0);
}

TEST_CASE("handles: ids are never given out twice, removed or refused") {
  HandleTable t;
  std::set<uint64_t> seen;
  std::vector<uint64_t> open;
  for (int i = 0; i < 1000; ++i) {
    if (open.size() == 3) {
      CHECK(add(t, "refused", 3) == 0);
      t.remove(open.front());  // the oldest closes
      open.erase(open.begin());
    }
    uint64_t id = add(t, std::to_string(i), 3);
    REQUIRE(id != 0);
    CHECK(seen.insert(id).second);
    open.push_back(id);
  }
  CHECK(t.size() == 3);
  CHECK(seen.size() == 1000);
  for (uint64_t id : open) CHECK(*t.get(id) == std::to_string(id - 1));  // ids count from 1
}

TEST_CASE("handles: concurrent add, get and remove from many threads") {
  HandleTable t;
  constexpr int kThreads = 8;
  constexpr int kEach = 2000;
  std::vector<std::vector<uint64_t>> kept(kThreads);
  std::vector<int> bad(kThreads, 0);
  std::vector<std::thread> threads;
  for (int n = 0; n < kThreads; ++n) {
    threads.emplace_back([&, n] {
      for (int i = 0; i < kEach; ++i) {
        std::string mine = std::to_string(n) + ":" + std::to_string(i);
        uint64_t id = add(t, mine, 1u << 20);
        auto got = t.get(id);
        if (id == 0 || !got || *got != mine) ++bad[static_cast<size_t>(n)];
        if (i % 4 == 0) {
          kept[static_cast<size_t>(n)].push_back(id);
        } else {
          t.remove(id);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<uint64_t> all;
  for (int n = 0; n < kThreads; ++n) {
    CHECK(bad[static_cast<size_t>(n)] == 0);
    for (uint64_t id : kept[static_cast<size_t>(n)]) CHECK(all.insert(id).second);
  }
  CHECK(t.size() == all.size());
  CHECK(all.size() == kThreads * kEach / 4);
  for (uint64_t id : all) t.remove(id);
  CHECK(t.size() == 0);
}
