#include "fsd/sandbox.h"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "lib/base/sys_error.h"

namespace vproc {

namespace {

// What vprocd does after mounting: serve FUSE requests from worker threads
// (libfuse creates and retires them), read files through dir fds, ask nsfs
// ioctls, sample loadavg on a timer thread (through the taskstats netlink
// socket opened before the filter), log to stderr, unmount at exit.
constexpr const char* kAllowed[] = {
    // files
    "read",
    "pread64",
    "readv",
    "preadv",
    "write",
    "pwrite64",
    "writev",
    "openat",
    "open",
    "close",
    "fstat",
    "newfstatat",
    "stat",
    "lstat",
    "statx",
    "lseek",
    "getdents64",
    "fcntl",
    "dup",
    "dup3",
    "ioctl",
    "splice",
    "pipe2",
    "readlink",
    "readlinkat",
    "access",
    "faccessat",
    "faccessat2",
    "poll",
    "ppoll",
    "statfs",
    "fstatfs",
    "getcwd",
    // memory
    "mmap",
    "munmap",
    "mprotect",
    "madvise",
    "brk",
    "mremap",
    "mincore",
    // threads and signals
    "clone",
    "clone3",
    "set_robust_list",
    "get_robust_list",
    "rseq",
    "futex",
    "set_tid_address",
    "exit",
    "exit_group",
    "gettid",
    "getpid",
    "getppid",
    "tgkill",
    "tkill",
    "rt_sigprocmask",
    "rt_sigaction",
    "rt_sigreturn",
    "rt_sigtimedwait",
    "sigaltstack",
    "sched_yield",
    "sched_getaffinity",
    "sched_setaffinity",
    "prctl",
    "getrlimit",
    "prlimit64",
    "getrandom",
    "restart_syscall",
    // time
    "clock_gettime",
    "clock_nanosleep",
    "nanosleep",
    "gettimeofday",
    "clock_getres",
    // identity (libc and sanitizers ask)
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "uname",
    "sysinfo",
    // FUSE over io_uring: only rings set up (and restricted) before the filter
    "io_uring_enter",
    // loadavg: cgroupstats over the netlink socket opened before the filter
    // (socket() itself stays refused)
    "sendto",
    "recvfrom",
    // leaving; reaping the re-attach child
    "umount2",
    "wait4",
    "waitid",
};

}  // namespace

ScmpFilter build_seccomp_filter() {
  ScmpFilter f(seccomp_init(SCMP_ACT_ERRNO(EPERM)));
  if (!f) throw SysError("seccomp_init", "", ENOMEM);
  for (const char* name : kAllowed) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) continue;  // not on this architecture
    int rc = seccomp_rule_add(f.get(), SCMP_ACT_ALLOW, nr, 0);
    if (rc < 0) throw SysError("seccomp_rule_add", name, -rc);
  }
  // Apply to every thread that already exists.
  int rc = seccomp_attr_set(f.get(), SCMP_FLTATR_CTL_TSYNC, 1);
  if (rc < 0) throw SysError("seccomp_attr_set", "TSYNC", -rc);
  return f;
}

void load_seccomp_filter(const ScmpFilter& filter) {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    throw SysError("prctl", "PR_SET_NO_NEW_PRIVS", errno);
  }
  int rc = seccomp_load(filter.get());
  if (rc < 0) throw SysError("seccomp_load", "", -rc);
}

void drop_capabilities() {
  const unsigned keep[] = {CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH};
  auto kept = [&](unsigned c) {
    for (unsigned k : keep) {
      if (k == c) return true;
    }
    return false;
  };
  for (unsigned c = 0; c <= 63; ++c) {
    if (kept(c)) continue;
    if (::prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EINVAL) {
      throw SysError("prctl", "PR_CAPBSET_DROP", errno);
    }
  }
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  for (unsigned k : keep) {
    data[k / 32].effective |= 1u << (k % 32);
    data[k / 32].permitted |= 1u << (k % 32);
  }
  if (::syscall(SYS_capset, &hdr, data) != 0) throw SysError("capset", "", errno);
}

}  // namespace vproc
