// Bind-mounts host files into another process's mount namespace, read-only,
// nosuid, nodev, noexec. Works before pivot_root (a runtime hook at
// createRuntime/prestart: rootfs is the host path of the container's root) and
// after it (a running container, poststart or re-attach: rootfs is "/").
//
// A classic bind mount cannot take its source from another mount namespace
// (check_mnt in do_loopback), so the source is cloned with
// open_tree(OPEN_TREE_CLONE) in the caller's namespace, then the caller
// setns()es into the container's and move_mount()s the detached tree onto the
// target fd. Targets are resolved with openat2(RESOLVE_IN_ROOT |
// RESOLVE_NO_SYMLINKS): a link in an untrusted rootfs is never followed. A
// target must be on procfs or sysfs, and its mount must not be shared
// (a mount there would propagate out of the container); otherwise it is skipped
// with a reason. A target that already carries a FUSE mount (vprocd or lxcfs)
// is skipped too, so running twice never stacks mounts.
//
// setns(CLONE_NEWNS) needs a single-threaded caller: call these from the hook
// or from a forked child, never from a multithreaded daemon directly. Each
// call returns the caller to its own mount namespace before returning.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/unique_fd.h"

namespace vproc {

struct InjectFile {
  std::string source;  // absolute path in the caller's namespace (a vprocd file)
  std::string target;  // path relative to the rootfs, e.g. "proc/meminfo"
  // A source that does not exist is a skipped file rather than a failed job
  // (pressure files, which vprocd serves only where the host has PSI).
  bool optional = false;
};

enum class InjectStatus { kMounted, kSkipped };

// The skip reason, in replace mode, of a target this vprocd already serves:
// callers count such a file as attached.
inline constexpr const char* kAlreadyAttached = "already attached to this vprocd";

struct InjectOutcome {
  std::string target;
  InjectStatus status = InjectStatus::kSkipped;
  std::string reason;     // why it was skipped (empty when mounted)
  bool replaced = false;  // mounted in place of a stale or older vprocd mount
};

struct InjectRequest {
  pid_t pid = 0;  // any process in the target mount namespace
  // When non-zero, field 22 of /proc/PID/stat as recorded by the caller: it is
  // checked again after the namespace fd is open, so a pid that died and was
  // reused in between is refused instead of injected into.
  unsigned long long pid_start_time = 0;
  // When non-zero, the inode of the namespace (/proc/PID/ns/mnt) recorded by
  // the caller: a process in another mount namespace is refused.
  unsigned long long mnt_ns = 0;
  std::string rootfs = "/";  // absolute path of the rootfs inside that namespace
  std::vector<InjectFile> files;
  // Relative InjectFile::source paths are resolved against this directory
  // (vprocd re-attaching passes its own mount's root, which may be stacked
  // under another instance's during a takeover).
  int source_dirfd = -100;  // AT_FDCWD
  // Replace mode (re-attach, `vproc-hook attach`): a target that carries a
  // vprocd FUSE mount of another connection (a dead daemon's, or the
  // instance being taken over) gets the fresh file mounted beneath it
  // (MOVE_MOUNT_BENEATH, Linux >= 6.5), then the old one is detached, so a
  // reader never sees a gap; on older kernels the old one is detached first.
  // A target already served by the source's own connection is left as is
  // (kSkipped, reason "already attached"). Mounts of other FUSE filesystems
  // (lxcfs) are never touched.
  bool replace = false;
  // When set and a file's target lies in the CPU directory (lib/files
  // kCpuDirTarget), the container first gets its own view of that directory:
  // a read-only tmpfs (source "vproc-cpu") over it that holds every entry of
  // the container's sysfs directory, each bound from there as it is (with
  // the mounts beneath it), except the cpuN directories of CPUs not listed
  // here. The files are then mounted onto the bound entries. Its outcome comes
  // first, with target kCpuDirTarget. A directory that already is such a
  // view is kept (skipped: "already the container's own CPU directory", or
  // kAlreadyAttached in replace mode).
  std::optional<std::vector<int>> cpu_dir;
};

// Whether the container's CPU directory keeps the host entry `name`: a
// "cpuN" directory only for N in cpus, every other entry always.
bool cpu_dir_keeps(std::string_view name, const std::vector<int>& cpus);
// The source the view's tmpfs carries in mountinfo.
inline constexpr const char* kCpuDirSource = "vproc-cpu";

// Injects every file. Per-file problems (missing target, symlink, wrong
// filesystem, shared mount, already mounted) are skipped outcomes; failures
// that stop the whole job (pid gone, setns refused, source missing) throw
// SysError. `on_mounted` is called after each successful mount, so that a
// caller can record progress before a later step fails. When a step throws
// after some mounts were made, those mounts are undone before the throw.
std::vector<InjectOutcome> inject_files(
    const InjectRequest& req, const std::function<void(const InjectOutcome&)>& on_mounted = {});

// Detaches (MNT_DETACH) the topmost mount on each target, but only when it is
// ours (a FUSE mount, or the CPU directory's tmpfs with what is on it). Used
// for rollback. Returns the targets unmounted.
std::vector<std::string> undo_mounts(pid_t pid, const std::string& rootfs,
                                     const std::vector<std::string>& targets);

// Linux >= 6.5: move_mount() knows MOVE_MOUNT_BENEATH (flag value below).
bool kernel_has_move_beneath();
constexpr unsigned kMoveMountBeneath = 0x00000200;

// Opens target (relative to rootfd) O_PATH without following any symlink
// (RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS). On failure, sets *reason and
// returns an empty fd.
UniqueFd open_in_root(int rootfd, const std::string& target, std::string* reason);

// True when path is served by a live FUSE mount (statfs says FUSE and does
// not fail with ENOTCONN). Does not read file data.
bool is_fuse_file(const std::string& path);

}  // namespace vproc
