#include "fsd/keeper.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <utility>

#include "lib/base/log.h"
#include "lib/base/sys_error.h"

namespace vproc {

static_assert(std::atomic<bool>::is_always_lock_free);  // request_drain() runs in a handler

Keeper::Keeper(KeeperHooks hooks, std::chrono::duration<double> drain_timeout)
    : hooks_(std::move(hooks)), drain_timeout_(drain_timeout) {
  wake_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_fd_) throw SysError("eventfd", "keeper", errno);
}

Keeper::~Keeper() { stop(); }

void Keeper::request_drain() {
  drain_requested_.store(true);
  wake();  // write(2) is async-signal-safe
}

void Keeper::wake() {
  std::uint64_t one = 1;
  if (::write(wake_fd_.get(), &one, sizeof one) < 0) {
    // Full counter (EAGAIN): the keeper has a wake-up pending anyway.
  }
}

Keeper::Next Keeper::tick(Clock::time_point now) {
  reap_child();
  if (drain_requested_.load() && state() == State::kServing) begin_drain(now);
  if (state() == State::kDraining && drain_over(now)) {
    hooks_.end_session();
    return Next::kDone;
  }
  return child_ > 0 || state() == State::kDraining ? Next::kRecheck : Next::kSleep;
}

void Keeper::reap_child() {
  if (child_ <= 0) return;
  int status = 0;
  if (::waitpid(child_, &status, WNOHANG) == child_) child_ = -1;
}

void Keeper::begin_drain(Clock::time_point now) {
  state_.store(State::kDraining);
  drain_start_ = idle_since_ = now;
  last_activity_ = hooks_.activity();
  log_line("vprocd: taken over by a new vprocd; draining " + std::to_string(hooks_.open_files()) +
           " open files");
}

// Whether the drain ends at `now`: idle (no open file and no request) for
// kIdleToLeave, or past the drain timeout.
bool Keeper::drain_over(Clock::time_point now) {
  const std::uint64_t act = hooks_.activity();
  const std::size_t open = hooks_.open_files();
  if (act != last_activity_ || open != 0) {
    last_activity_ = act;
    idle_since_ = now;
  }
  const bool idle = now - idle_since_ >= kIdleToLeave;
  const bool late = now - drain_start_ >= drain_timeout_;
  if (!idle && !late) return false;
  if (!idle) log_line("vprocd: drain timeout: " + std::to_string(open) + " files still open");
  state_.store(idle ? State::kDrained : State::kTimedOut);
  return true;
}

void Keeper::wait(Next next) {
  const int timeout_ms = next == Next::kRecheck ? static_cast<int>(kRecheckEvery.count()) : -1;
  pollfd p{wake_fd_.get(), POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) > 0) {
    std::uint64_t n = 0;
    if (::read(wake_fd_.get(), &n, sizeof n) < 0) {
      // EAGAIN: another wake-up consumed it first.
    }
  }
}

void Keeper::loop() {
  while (!stop_.load()) {
    const Next next = tick(Clock::now());
    if (next == Next::kDone) return;
    wait(next);
  }
}

void Keeper::start() {
  thread_ = std::thread([this] { loop(); });
}

void Keeper::stop() {
  stop_.store(true);
  wake();
  if (thread_.joinable()) thread_.join();
}

}  // namespace vproc
