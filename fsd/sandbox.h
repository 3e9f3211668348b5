// vprocd confines itself once its FUSE mount is up: it keeps only the
// capabilities it still needs and installs a seccomp allow-list.
//
// Capabilities kept (effective and permitted; every other one is also dropped
// from the bounding set):
//   CAP_SYS_PTRACE      open /proc/<pid>/ns/pid of readers owned by other users
//   CAP_DAC_READ_SEARCH read cgroup and /proc files whatever their modes
// Not CAP_SYS_ADMIN: the unmounter (fsd/unmounter.h), a helper forked before
// confining, keeps it alone and unmounts at exit.
//
// seccomp: the default action for a syscall not on the list is to fail it
// with EPERM, not to kill the process. A rare libc or libfuse path that needs
// a syscall we did not foresee then gets an error that vprocd reports for
// that one request, instead of the daemon dying under every container on the
// host. Execution of new programs, networking, ptrace, module loading,
// mounting and unmounting, namespace changes, keyrings and bpf are refused;
// open and openat only open for reading (no O_WRONLY, O_RDWR, O_CREAT,
// O_TRUNC, O_APPEND, O_TMPFILE), and nothing else creates, renames or
// removes a file; clone makes threads but no namespace (no CLONE_NEW*);
// clone3, whose flags a filter cannot see, fails with ENOSYS (glibc then
// falls back to clone).
#pragma once

#include <seccomp.h>

#include <memory>

namespace vproc {

struct ScmpDeleter {
  void operator()(scmp_filter_ctx ctx) const { seccomp_release(ctx); }
};
using ScmpFilter = std::unique_ptr<void, ScmpDeleter>;

// The allow-list, built but not loaded.
ScmpFilter build_seccomp_filter();
// Loads a filter into the process (all threads). Throws SysError.
void load_seccomp_filter(const ScmpFilter& filter);
// Drops capabilities as documented above. Throws SysError.
void drop_capabilities();
// What vprocd does once it serves: drop_capabilities(), then the filter of
// build_seccomp_filter(). Throws SysError.
void confine_serving();
// The unmounter's set: CAP_SYS_ADMIN only. Throws SysError.
void keep_only_sys_admin();

}  // namespace vproc
