// The jail vprocd serves in, proved from inside it: each probe runs in a
// forked child that calls vproc::confine_serving(), the very function vprocd
// calls once it serves (capabilities, then the seccomp filter), and tries one
// thing. The test process stays unconfined. As root (as vprocd runs) the
// capability checks mean something; otherwise they are skipped.
//
// And the unmounter (fsd/unmounter.h), in a private mount namespace: it
// detaches a mount that is still ours when asked, leaves one that is not, and
// does nothing when released (handed over).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "fsd/sandbox.h"
#include "fsd/takeover.h"
#include "fsd/unmounter.h"

namespace {

// Runs body in a child confined as vprocd is; returns the child's exit
// status (body's result: 0 for as expected).
template <typename F>
int confined(F body) {
  pid_t pid = fork();
  if (pid == 0) {
    try {
      vproc::confine_serving();
    } catch (...) {
      _exit(99);
    }
    _exit(body());
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// 0 when r failed with `want`, else 1.
int failed_with(long r, int want) { return r < 0 && errno == want ? 0 : 1; }

bool is_root() { return geteuid() == 0; }

// A root-owned (when root) file with known content in a fresh directory.
struct Scratch {
  std::string dir;
  std::string file;
  Scratch() {
    char tmpl[] = "/tmp/vproc-jail.XXXXXX";
    dir = mkdtemp(tmpl);
    file = dir + "/existing";
    int fd = open(file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    CHECK(write(fd, "keep", 4) == 4);
    close(fd);
  }
  ~Scratch() {
    std::string cmd = "rm -rf '" + dir + "'";
    CHECK(std::system(cmd.c_str()) == 0);
  }
  off_t size() const {
    struct stat st {};
    return stat(file.c_str(), &st) == 0 ? st.st_size : -1;
  }
};

}  // namespace

TEST_CASE("jail: open and openat open for reading only") {
  Scratch s;
  const char* f = s.file.c_str();
  for (int flags :
       {O_WRONLY, O_RDWR, O_RDONLY | O_TRUNC, O_WRONLY | O_APPEND, O_RDONLY | O_APPEND}) {
    CAPTURE(flags);
    CHECK(confined([&] { return failed_with(openat(AT_FDCWD, f, flags | O_CLOEXEC), EPERM); }) ==
          0);
  }
  CHECK(s.size() == 4);  // O_TRUNC did not truncate
  const std::string fresh = s.dir + "/new";
  CHECK(confined([&] {
          return failed_with(openat(AT_FDCWD, fresh.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0644),
                             EPERM);
        }) == 0);
  CHECK(access(fresh.c_str(), F_OK) != 0);  // nothing created
  CHECK(confined([&] {
          return failed_with(openat(AT_FDCWD, s.dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600),
                             EPERM);
        }) == 0);
#ifdef SYS_open
  CHECK(confined([&] { return failed_with(syscall(SYS_open, f, O_WRONLY | O_CLOEXEC), EPERM); }) ==
        0);
  CHECK(confined([&] {
          return failed_with(syscall(SYS_open, fresh.c_str(), O_CREAT | O_CLOEXEC, 0644), EPERM);
        }) == 0);
#endif
  // openat2 carries its flags in a struct: refused whatever they are.
  CHECK(confined([&] {
          return failed_with(syscall(SYS_openat2, AT_FDCWD, f, nullptr, 0), EPERM);
        }) == 0);
  // What vprocd does: plain, directory and O_PATH opens for reading.
  CHECK(confined([&] {
          int a = openat(AT_FDCWD, f, O_RDONLY | O_CLOEXEC);
          int d = openat(AT_FDCWD, s.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
          int p = openat(AT_FDCWD, "/proc/self/status", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
          int q = openat(AT_FDCWD, s.dir.c_str(), O_PATH | O_CLOEXEC);
          char buf[8];
          return a >= 0 && d >= 0 && p >= 0 && q >= 0 && read(a, buf, sizeof buf) == 4 ? 0 : 1;
        }) == 0);
}

TEST_CASE("jail: no other way to make or change a file") {
  Scratch s;
  const std::string other = s.dir + "/other";
  CHECK(confined([&] { return failed_with(truncate(s.file.c_str(), 0), EPERM); }) == 0);
  CHECK(confined([&] {
          int fd = open(s.file.c_str(), O_RDONLY | O_CLOEXEC);
          return failed_with(ftruncate(fd, 0), EPERM);
        }) == 0);
  CHECK(confined([&] { return failed_with(rename(s.file.c_str(), other.c_str()), EPERM); }) == 0);
  CHECK(confined([&] { return failed_with(unlink(s.file.c_str()), EPERM); }) == 0);
  CHECK(confined([&] { return failed_with(mkdir(other.c_str(), 0700), EPERM); }) == 0);
  CHECK(confined([&] { return failed_with(chmod(s.file.c_str(), 0666), EPERM); }) == 0);
  CHECK(confined([&] { return failed_with(symlink("x", other.c_str()), EPERM); }) == 0);
  CHECK(confined([&] { return failed_with(mknod(other.c_str(), S_IFIFO | 0600, 0), EPERM); }) == 0);
  CHECK(s.size() == 4);
  CHECK(access(other.c_str(), F_OK) != 0);
}

TEST_CASE("jail: threads yes, namespaces no, clone3 ENOSYS") {
  CHECK(confined([] {
          int seen = 0;
          std::thread t([&] { seen = 1; });
          t.join();
          return seen == 1 ? 0 : 1;
        }) == 0);
  for (unsigned long ns : {CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWUTS,
                           CLONE_NEWIPC, CLONE_NEWCGROUP}) {
    CAPTURE(ns);
    // The raw syscall (the child, had there been one, exits at once).
    CHECK(confined([ns] {
            long r = syscall(SYS_clone, ns | SIGCHLD, nullptr, nullptr, nullptr, 0);
            if (r == 0) _exit(0);
            return failed_with(r, EPERM);
          }) == 0);
    CHECK(confined([ns] { return failed_with(unshare(static_cast<int>(ns)), EPERM); }) == 0);
  }
  CHECK(confined([] { return failed_with(setns(0, CLONE_NEWNS), EPERM); }) == 0);
  CHECK(confined([] {
          clone_args args{};
          args.exit_signal = SIGCHLD;
          long r = syscall(SYS_clone3, &args, sizeof args);
          if (r == 0) _exit(0);
          return failed_with(r, ENOSYS);
        }) == 0);
}

TEST_CASE("jail: no mounting, no unmounting, no CAP_SYS_ADMIN") {
  CHECK(confined([] { return failed_with(mount("none", "/tmp", "tmpfs", 0, nullptr), EPERM); }) ==
        0);
  CHECK(confined([] { return failed_with(umount2("/tmp", MNT_DETACH), EPERM); }) == 0);
  if (!is_root()) {
    MESSAGE("not root: the capability sets are not checked");
    return;
  }
  // capget itself is refused in the jail: read the sets from /proc.
  CHECK(confined([] {
          int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
          char buf[4096];
          ssize_t n = read(fd, buf, sizeof buf - 1);
          if (n <= 0) return 2;
          buf[n] = 0;
          auto field = [&](const char* name) {
            const char* p = strstr(buf, name);
            return p ? std::strtoull(p + strlen(name), nullptr, 16) : ~0ULL;
          };
          unsigned long long want = (1ULL << CAP_SYS_PTRACE) | (1ULL << CAP_DAC_READ_SEARCH);
          bool ok = field("CapEff:") == want && field("CapPrm:") == want &&
                    field("CapBnd:") == want && prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) == 0;
          return ok ? 0 : 1;
        }) == 0);
}

namespace {

// Runs body in a child in a mount namespace of its own (nothing it mounts
// reaches the host); 0 when body returned 0. Root only.
template <typename F>
int in_private_mounts(F body) {
  pid_t pid = fork();
  if (pid == 0) {
    if (unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr)) {
      _exit(98);
    }
    _exit(body());
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool mounted_at(const std::string& dir, std::uint64_t id) {
  try {
    return vproc::mount_id_at(AT_FDCWD, dir) == id;
  } catch (...) {
    return false;
  }
}

}  // namespace

TEST_CASE("unmounter: detaches our mount when asked, never a successor's, nothing when released") {
  if (!is_root()) {
    MESSAGE("not root: the unmounter is not exercised");
    return;
  }
  Scratch s;
  const std::string mp = s.dir;
  CHECK(in_private_mounts([&] {
          if (mount("vproc-test", mp.c_str(), "tmpfs", 0, nullptr) != 0) return 2;
          std::uint64_t id = vproc::mount_id_at(AT_FDCWD, mp);
          {
            vproc::Unmounter u({{mp, id, false}});
            vproc::confine_serving();  // as vprocd: the helper keeps the capability
            if (!u.unmount()) return 3;
          }
          return mounted_at(mp, id) ? 4 : 0;
        }) == 0);
  CHECK(in_private_mounts([&] {
          if (mount("vproc-test", mp.c_str(), "tmpfs", 0, nullptr) != 0) return 2;
          std::uint64_t id = vproc::mount_id_at(AT_FDCWD, mp);
          vproc::Unmounter u({{mp, id, false}});
          // A successor stacked on top: not ours, left alone.
          if (mount("vproc-next", mp.c_str(), "tmpfs", 0, nullptr) != 0) return 5;
          std::uint64_t next = vproc::mount_id_at(AT_FDCWD, mp);
          if (!u.unmount()) return 3;
          return mounted_at(mp, next) ? 0 : 4;
        }) == 0);
  CHECK(in_private_mounts([&] {
          if (mount("vproc-test", mp.c_str(), "tmpfs", 0, nullptr) != 0) return 2;
          std::uint64_t id = vproc::mount_id_at(AT_FDCWD, mp);
          {
            vproc::Unmounter u({{mp, id, false}});
            u.release();  // handed over
          }
          return mounted_at(mp, id) ? 0 : 4;
        }) == 0);
}
