#include "fsd/unmounter.h"

#include <linux/close_range.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <exception>
#include <utility>

#include "fsd/sandbox.h"
#include "fsd/takeover.h"
#include "lib/base/io.h"
#include "lib/base/log.h"
#include "lib/base/sys_error.h"

namespace vproc {

namespace {

constexpr int kSockFd = 3;  // the helper's end, after it closed everything else

void detach_if_ours(const OwnedMount& m) {
  try {
    if (mount_id_at(AT_FDCWD, m.path) != m.id) {
      if (m.log) log_line("vprocd: " + m.path + " is no longer our mount; leaving it, exiting");
      return;
    }
    if (::umount2(m.path.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) != 0) {
      throw SysError("umount2", m.path, errno);
    }
    if (m.log) log_line("vprocd: unmounted " + m.path + ", exiting");
  } catch (const std::exception& e) {
    if (m.log) log_line(std::string("vprocd: ") + e.what());
  }
}

[[noreturn]] void run_helper(int sock, const std::vector<OwnedMount>& mounts) {
  // SIGTERM to the whole service (systemd's KillMode=control-group) must not
  // end the helper before vprocd asks it to unmount.
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGPIPE}) ::signal(sig, SIG_IGN);
  ::prctl(PR_SET_NAME, "vprocd-umount", 0, 0, 0);
  // Keep no FUSE connection, ring or pipe of the daemon alive.
  if (sock != kSockFd && ::dup2(sock, kSockFd) < 0) ::_exit(1);
  if (::syscall(SYS_close_range, kSockFd + 1, ~0U, 0) != 0) ::_exit(1);
  try {
    keep_only_sys_admin();
  } catch (const std::exception& e) {
    log_line(std::string("vprocd: unmounter: ") + e.what());
    ::_exit(1);
  }
  char c = 0;
  ssize_t n = retry_eintr([&] { return ::read(kSockFd, &c, 1); });
  if (n != 1 || c != 'U') ::_exit(0);  // handed over, or vprocd is gone
  for (const OwnedMount& m : mounts) detach_if_ours(m);
  ssize_t ignored = ::write(kSockFd, "D", 1);
  (void)ignored;
  ::_exit(0);
}

}  // namespace

Unmounter::Unmounter(const std::vector<OwnedMount>& mounts) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    throw SysError("socketpair", "unmounter", errno);
  }
  UniqueFd ours(sv[0]);
  UniqueFd theirs(sv[1]);
  pid_t pid = ::fork();
  if (pid < 0) throw SysError("fork", "unmounter", errno);
  if (pid == 0) {
    ours.reset();
    run_helper(theirs.get(), mounts);
  }
  sock_ = std::move(ours);
  pid_ = pid;
}

bool Unmounter::unmount() {
  if (!sock_) return false;
  char c = 0;
  // MSG_NOSIGNAL: a helper that is gone must not take vprocd down with SIGPIPE.
  bool done = ::send(sock_.get(), "U", 1, MSG_NOSIGNAL) == 1 &&
              retry_eintr([&] { return ::read(sock_.get(), &c, 1); }) == 1 && c == 'D';
  release();
  return done;
}

void Unmounter::release() {
  sock_.reset();
  if (pid_ > 0) retry_eintr([&] { return ::waitpid(pid_, nullptr, 0); });
  pid_ = -1;
}

}  // namespace vproc
