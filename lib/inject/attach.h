// The privileged part of vproc-hook, as a checklist:
//   1. fork a worker (the hook stays out of the container's namespace and a
//      hung FUSE daemon can only block the worker, which is SIGKILLable);
//   2. worker: probe vprocd (read MOUNTPOINT/proc/meminfo, check it is FUSE);
//   3. worker: inject_files() (lib/inject/mount_inject.h), reporting each mount;
//   4. parent: wait until the deadline; on timeout or error, kill the worker
//      and undo the mounts it reported, then throw.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "lib/inject/mount_inject.h"

namespace vproc {

using Deadline = std::chrono::steady_clock::time_point;

struct AttachRequest {
  pid_t pid = 0;
  unsigned long long pid_start_time = 0;  // see InjectRequest
  std::string rootfs;                     // inside the container's mount namespace
  std::string mountpoint;                 // vprocd's
  std::vector<InjectFile> files;
  unsigned long long mnt_ns = 0;            // see InjectRequest
  bool replace = false;                     // see InjectRequest
  std::optional<std::vector<int>> cpu_dir;  // see InjectRequest
};

// Mounted and skipped files. Throws SysError (with the reason) when
// the job failed as a whole; no mount made by this call is left behind then.
std::vector<InjectOutcome> attach_bounded(const AttachRequest& req, Deadline deadline);

// Step 2 on its own (runs in the calling process; may block on a hung FUSE).
void probe_vprocd(const std::string& mountpoint);

// True when /proc/PID/root is the caller's root: the container has not
// pivoted yet (createRuntime/prestart) and its rootfs is a host path.
bool before_pivot(pid_t pid);

}  // namespace vproc
