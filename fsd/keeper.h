// The keeper: vprocd's housekeeping thread. It reaps the attacher (the
// re-attach child, see fsd/takeover.h) and, once a successor has taken over
// (SIGUSR2), keeps serving until the files still open are closed and no
// request has come for a second, or until --drain-timeout, then ends the
// session loop.
//
// The thread sleeps on an eventfd: with no child to reap and no drain under
// way, an idle vprocd has no timer waking it. The state machine is tick(),
// which takes the time as an argument so tests drive it without a mount.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <thread>

#include "lib/base/unique_fd.h"

namespace vproc {

// What the keeper watches and what it does when the drain ends.
struct KeeperHooks {
  std::function<std::uint64_t()> activity;  // moves with every request served
  std::function<std::size_t()> open_files;
  std::function<void()> end_session;  // makes the session loop return
};

class Keeper {
 public:
  using Clock = std::chrono::steady_clock;

  enum class State {
    kServing,   // no successor yet
    kDraining,  // taken over; serving what is still open
    kDrained,   // idle for kIdleToLeave: handed over
    kTimedOut,  // drain_timeout passed with files still open: handed over
  };
  // What the thread does after a tick.
  enum class Next {
    kSleep,    // wait until woken (a drain request, stop())
    kRecheck,  // wait at most kRecheckEvery: a child to reap or a drain to watch
    kDone,     // handed over: the session is ending
  };

  static constexpr std::chrono::seconds kIdleToLeave{1};
  static constexpr std::chrono::milliseconds kRecheckEvery{100};

  // Throws SysError when the eventfd cannot be created.
  Keeper(KeeperHooks hooks, std::chrono::duration<double> drain_timeout);
  ~Keeper();
  Keeper(const Keeper&) = delete;
  Keeper& operator=(const Keeper&) = delete;

  // Reap this child (once it exits) from now on; before start().
  void watch_child(pid_t child) { child_ = child; }

  // Async-signal-safe: a successor took over.
  void request_drain();

  // One step of the state machine at `now`; the thread calls it with the
  // clock after every wake-up.
  Next tick(Clock::time_point now);

  // Runs the thread; stop() wakes and joins it (also when it ended by itself).
  void start();
  void stop();

  State state() const { return state_.load(); }
  bool handed_over() const {
    State s = state();
    return s == State::kDrained || s == State::kTimedOut;
  }

 private:
  void reap_child();
  void begin_drain(Clock::time_point now);
  bool drain_over(Clock::time_point now);
  void wake();
  void wait(Next next);
  void loop();

  KeeperHooks hooks_;
  const std::chrono::duration<double> drain_timeout_;
  UniqueFd wake_fd_;
  pid_t child_ = -1;
  std::atomic<bool> drain_requested_{false};
  std::atomic<bool> stop_{false};
  std::atomic<State> state_{State::kServing};
  Clock::time_point drain_start_;
  Clock::time_point idle_since_;
  std::uint64_t last_activity_ = 0;
  std::thread thread_;
};

}  // namespace vproc
