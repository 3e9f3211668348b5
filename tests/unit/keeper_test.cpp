// fsd/keeper.h: the drain state machine, driven tick by tick with a made-up
// clock and counters, and the thread woken through its interface.
#include "fsd/keeper.h"

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <thread>

namespace {

using Clock = vproc::Keeper::Clock;
using State = vproc::Keeper::State;
using Next = vproc::Keeper::Next;
using std::chrono::milliseconds;
using std::chrono::seconds;

// What the keeper sees of the daemon, set by the test.
struct FakeDaemon {
  std::atomic<std::uint64_t> activity{0};
  std::atomic<std::size_t> open_files{0};
  std::atomic<int> ended{0};

  vproc::KeeperHooks hooks() {
    return {[this] { return activity.load(); }, [this] { return open_files.load(); },
            [this] { ended.fetch_add(1); }};
  }
};

const Clock::time_point t0 = Clock::time_point() + std::chrono::hours(1);

}  // namespace

TEST_CASE("keeper: serving, it sleeps until woken and never ends the session") {
  FakeDaemon d;
  vproc::Keeper k(d.hooks(), seconds(30));
  d.activity = 7;
  d.open_files = 3;
  CHECK(k.tick(t0) == Next::kSleep);
  CHECK(k.tick(t0 + std::chrono::hours(5)) == Next::kSleep);
  CHECK(k.state() == State::kServing);
  CHECK_FALSE(k.handed_over());
  CHECK(d.ended == 0);
}

TEST_CASE("keeper: drained once idle for a second, not before") {
  FakeDaemon d;
  vproc::Keeper k(d.hooks(), seconds(30));
  d.open_files = 2;
  k.request_drain();
  CHECK(k.tick(t0) == Next::kRecheck);
  CHECK(k.state() == State::kDraining);
  // Open files keep it serving however long nothing is read; the idle
  // second counts from the last tick that saw one open.
  CHECK(k.tick(t0 + seconds(5)) == Next::kRecheck);
  d.open_files = 0;
  CHECK(k.tick(t0 + milliseconds(5500)) == Next::kRecheck);
  d.activity = 1;  // a request: idle again from 5.9 s
  CHECK(k.tick(t0 + milliseconds(5900)) == Next::kRecheck);
  CHECK(k.tick(t0 + seconds(6)) == Next::kRecheck);
  CHECK(k.tick(t0 + milliseconds(6899)) == Next::kRecheck);
  CHECK(d.ended == 0);
  CHECK(k.tick(t0 + milliseconds(6900)) == Next::kDone);
  CHECK(k.state() == State::kDrained);
  CHECK(k.handed_over());
  CHECK(d.ended == 1);
}

TEST_CASE("keeper: the drain timeout ends it with files still open") {
  FakeDaemon d;
  vproc::Keeper k(d.hooks(), std::chrono::duration<double>(2.5));
  d.open_files = 1;
  k.request_drain();
  CHECK(k.tick(t0) == Next::kRecheck);
  CHECK(k.tick(t0 + milliseconds(2499)) == Next::kRecheck);
  CHECK(d.ended == 0);
  CHECK(k.tick(t0 + milliseconds(2500)) == Next::kDone);
  CHECK(k.state() == State::kTimedOut);
  CHECK(k.handed_over());
  CHECK(d.ended == 1);
}

TEST_CASE("keeper: the drain starts at the first tick after the request, not before") {
  FakeDaemon d;
  vproc::Keeper k(d.hooks(), seconds(30));
  CHECK(k.tick(t0) == Next::kSleep);
  k.request_drain();
  // Idle since long before, but the second is counted from the drain's start.
  CHECK(k.tick(t0 + seconds(100)) == Next::kRecheck);
  CHECK(k.tick(t0 + seconds(100) + milliseconds(999)) == Next::kRecheck);
  CHECK(k.tick(t0 + seconds(101)) == Next::kDone);
  CHECK(k.state() == State::kDrained);
}

TEST_CASE("keeper: a zero drain timeout hands over at once") {
  FakeDaemon d;
  vproc::Keeper k(d.hooks(), seconds(0));
  d.open_files = 4;
  k.request_drain();
  CHECK(k.tick(t0) == Next::kDone);
  CHECK(k.state() == State::kTimedOut);
  CHECK(d.ended == 1);
}

TEST_CASE("keeper: rechecks while its child lives, reaps it, then sleeps") {
  FakeDaemon d;
  vproc::Keeper k(d.hooks(), seconds(30));
  int go[2];
  REQUIRE(::pipe(go) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    char c;
    ssize_t n = ::read(go[0], &c, 1);  // until the test says so
    ::_exit(n == 1 ? 0 : 1);
  }
  ::close(go[0]);
  k.watch_child(child);
  CHECK(k.tick(t0) == Next::kRecheck);  // still running
  REQUIRE(::write(go[1], "x", 1) == 1);
  ::close(go[1]);
  siginfo_t info{};
  REQUIRE(::waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOWAIT) == 0);  // a zombie
  CHECK(k.tick(t0) == Next::kSleep);                                                  // reaped
  errno = 0;
  CHECK(::waitpid(child, nullptr, WNOHANG) == -1);
  CHECK(errno == ECHILD);
  CHECK(d.ended == 0);
}

TEST_CASE("keeper thread: stop() wakes it from an endless sleep") {
  FakeDaemon d;
  vproc::Keeper k(d.hooks(), seconds(30));
  k.start();
  std::this_thread::sleep_for(milliseconds(20));  // let it reach its wait
  k.stop();                                       // hangs the test if not woken
  CHECK(k.state() == State::kServing);
  CHECK(d.ended == 0);
}

TEST_CASE("keeper thread: a drain request wakes it and it ends the session") {
  FakeDaemon d;
  vproc::Keeper k(d.hooks(), seconds(0));
  k.start();
  std::this_thread::sleep_for(milliseconds(20));
  k.request_drain();
  for (int i = 0; i < 500 && d.ended == 0; ++i) std::this_thread::sleep_for(milliseconds(10));
  CHECK(d.ended == 1);
  k.stop();
  CHECK(k.handed_over());
  CHECK(d.ended == 1);  // once only
}
