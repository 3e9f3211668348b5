#include "fsd/sandbox.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <initializer_list>

#include "lib/base/sys_error.h"

namespace vproc {

namespace {

// What vprocd does after mounting: serve FUSE requests from worker threads
// (libfuse creates and retires them), read files through dir fds, ask nsfs
// ioctls, sample loadavg on a timer thread (through the taskstats netlink
// socket opened before the filter), log to stderr. It writes only to fds it
// already has (the FUSE device, stderr, pipes, the netlink socket); the
// unmounter (fsd/unmounter.h) unmounts at exit.
//
// open, openat and clone are allowed only with some arguments (below);
// clone3 fails with ENOSYS.
constexpr const char* kAllowed[] = {
    // files
    "read",
    "pread64",
    "readv",
    "preadv",
    "write",
    "pwrite64",
    "writev",
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
    // reaping the re-attach child and the unmounter
    "wait4",
    "waitid",
};

// Flags that open a file for writing or make one. O_TMPFILE includes
// O_DIRECTORY, so only its own bit stands for it here.
constexpr scmp_datum_t kWriteOpenFlags =
    O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND | (O_TMPFILE & ~O_DIRECTORY);

// Every clone flag that makes a new namespace. (CLONE_NEWTIME shares its bit
// with the exit signal in clone(); only clone3 and unshare take it.)
constexpr scmp_datum_t kNamespaceFlags = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS |
                                         CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET;

void add_rule(const ScmpFilter& f, uint32_t action, const char* name, scmp_arg_cmp cmp) {
  int nr = seccomp_syscall_resolve_name(name);
  if (nr == __NR_SCMP_ERROR) return;  // not on this architecture
  int rc = seccomp_rule_add(f.get(), action, nr, 1, cmp);
  if (rc < 0) throw SysError("seccomp_rule_add", name, -rc);
}

// The rules that look at arguments.
void add_argument_rules(const ScmpFilter& f) {
  // Read-only opens only: flags & kWriteOpenFlags == 0.
  add_rule(f, SCMP_ACT_ALLOW, "openat", SCMP_A2(SCMP_CMP_MASKED_EQ, kWriteOpenFlags, 0));
  add_rule(f, SCMP_ACT_ALLOW, "open", SCMP_A1(SCMP_CMP_MASKED_EQ, kWriteOpenFlags, 0));
  // Threads (and fork), never a namespace. The flags are the first argument
  // of clone() on x86-64, arm64 and most others (not on s390).
  add_rule(f, SCMP_ACT_ALLOW, "clone", SCMP_A0(SCMP_CMP_MASKED_EQ, kNamespaceFlags, 0));
  // clone3 passes its flags in a struct a filter cannot read. ENOSYS makes
  // glibc (>= 2.34) fall back to clone, whose flags it can.
  int nr = seccomp_syscall_resolve_name("clone3");
  if (nr != __NR_SCMP_ERROR) {
    int rc = seccomp_rule_add(f.get(), SCMP_ACT_ERRNO(ENOSYS), nr, 0);
    if (rc < 0) throw SysError("seccomp_rule_add", "clone3", -rc);
  }
}

// Keeps `keep` in the effective and permitted sets and drops every other
// capability, from the bounding set too.
void keep_only(std::initializer_list<unsigned> keep) {
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
  add_argument_rules(f);
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

void drop_capabilities() { keep_only({CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH}); }

void confine_serving() {
  drop_capabilities();
  load_seccomp_filter(build_seccomp_filter());
}

void keep_only_sys_admin() { keep_only({CAP_SYS_ADMIN}); }

}  // namespace vproc
