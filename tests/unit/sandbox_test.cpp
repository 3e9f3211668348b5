// The seccomp allow-list refuses what vprocd never needs. The filter is
// loaded in a forked child so the test process stays unconfined.
#include "fsd/sandbox.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "lib/base/io.h"
#include "lib/cgroup/cgroupstats.h"

namespace {

// Runs body in a child under the filter; returns the child's exit status.
template <typename F>
int in_sandboxed_child(F body) {
  auto filter = vproc::build_seccomp_filter();
  pid_t pid = fork();
  if (pid == 0) {
    vproc::load_seccomp_filter(filter);
    _exit(body());
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

TEST_CASE("seccomp: forbidden syscalls fail with EPERM, needed ones work") {
  CHECK(in_sandboxed_child([] {
          int s = socket(AF_INET, SOCK_STREAM, 0);
          return s < 0 && errno == EPERM ? 0 : 1;
        }) == 0);
  CHECK(in_sandboxed_child([] {
          int r = mount("none", "/tmp", "tmpfs", 0, nullptr);
          return r < 0 && errno == EPERM ? 0 : 1;
        }) == 0);
  CHECK(in_sandboxed_child([] {
          char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
          execv("/bin/true", argv);
          return errno == EPERM ? 0 : 1;
        }) == 0);
  CHECK(in_sandboxed_child([] {
          int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
          char buf[64];
          bool ok = fd >= 0 && read(fd, buf, sizeof buf) > 0 && getpid() > 0;
          return ok ? 0 : 1;
        }) == 0);
}

TEST_CASE("seccomp: the netlink socket opened before the filter works under it") {
  std::unique_ptr<vproc::cgroup::CgroupStatsSocket> sock;
  try {
    sock = std::make_unique<vproc::cgroup::CgroupStatsSocket>();
  } catch (const std::exception& e) {
    MESSAGE("no TASKSTATS family here, skipped: " << e.what());
    return;
  }
  vproc::UniqueFd tmp = vproc::open_at(AT_FDCWD, "/tmp", O_RDONLY | O_DIRECTORY);
  // EINVAL is the kernel's answer (not a cgroupfs directory): sendto and
  // recvfrom passed the filter. A new netlink socket stays refused.
  CHECK(in_sandboxed_child([&] {
          vproc::cgroup::TaskCounts c;
          return sock->query(tmp.get(), c) == EINVAL ? 0 : 1;
        }) == 0);
  CHECK(in_sandboxed_child([] {
          int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
          return s < 0 && errno == EPERM ? 0 : 1;
        }) == 0);
}
