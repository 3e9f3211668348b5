// The fair shares of workers between tenants (fsd/fuse/fair_gate.h).
#include "fsd/fuse/fair_gate.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using vproc::fuse::FairGate;
using namespace std::chrono_literals;

namespace {
// Concurrency seen by the jobs of one tenant.
struct Meter {
  std::atomic<int> now{0};
  std::atomic<int> peak{0};
  std::atomic<int> done{0};
  void enter() {
    int n = ++now;
    int p = peak.load();
    while (n > p && !peak.compare_exchange_weak(p, n)) {
    }
  }
  void leave() {
    --now;
    ++done;
  }
};

// A job of `tenant` that holds its slot, on a thread of its own, until
// released; `then` runs as it lets go.
struct Holder {
  std::atomic<bool> holding{false};
  std::atomic<bool> release{false};
  std::thread thread;
  Holder(FairGate& gate, const std::string& tenant, std::function<void()> then = nullptr) {
    thread = std::thread([this, &gate, tenant, then] {
      gate.run(tenant, [this, then] {
        holding = true;
        while (!release) std::this_thread::sleep_for(1ms);
        if (then) then();
      });
    });
    while (!holding) std::this_thread::sleep_for(1ms);
  }
  void let_go() {
    release = true;
    thread.join();
  }
};
}  // namespace

TEST_CASE("fair gate: a tenant runs at most its share; its backlog runs, the others do not wait") {
  FairGate gate(2);
  Meter a;
  std::vector<std::thread> workers;
  for (int i = 0; i < 8; ++i) {
    workers.emplace_back([&] {
      gate.run("a", [&] {
        a.enter();
        std::this_thread::sleep_for(30ms);
        a.leave();
      });
    });
  }
  // Wait until the backlog is there: 2 running, 6 queued.
  for (int i = 0; i < 200 && gate.queued() < 6; ++i) std::this_thread::sleep_for(1ms);
  CHECK(gate.queued() == 6);
  // Another tenant's job runs at once, on this thread.
  auto t0 = std::chrono::steady_clock::now();
  bool ran = false;
  gate.run("b", [&] { ran = true; });
  CHECK(ran);
  CHECK(std::chrono::steady_clock::now() - t0 < 25ms);
  for (auto& w : workers) w.join();
  // Every job ran, on the workers that held a's slots, never more than 2 at once.
  CHECK(a.done == 8);
  CHECK(a.peak == 2);
  CHECK(gate.queued() == 0);
}

TEST_CASE("fair gate: queued jobs run in arrival order") {
  FairGate gate(1);
  std::mutex mu;
  std::vector<int> order;
  Holder first(gate, "t", [&] {
    std::lock_guard lock(mu);
    order.push_back(0);
  });
  // These return at once: the slot is taken, so they are queued.
  for (int i = 1; i <= 3; ++i) {
    gate.run("t", [&, i] {
      std::lock_guard lock(mu);
      order.push_back(i);
    });
  }
  CHECK(gate.queued() == 3);
  first.let_go();
  CHECK(order == std::vector<int>{0, 1, 2, 3});
}

TEST_CASE("fair gate: a job that may not wait runs at once, past the share") {
  FairGate gate(1);
  Holder holder(gate, "t");
  bool ran = false;
  gate.run(
      "t", [&] { ran = true; }, /*may_queue=*/false);
  CHECK(ran);
  CHECK(gate.queued() == 0);
  holder.let_go();
}

TEST_CASE("fair gate: a share of 0 is 1") {
  FairGate gate(0);
  CHECK(gate.per_tenant() == 1);
  gate.set_per_tenant(3);
  CHECK(gate.per_tenant() == 3);
}
