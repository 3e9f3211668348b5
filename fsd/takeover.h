// Restart, crash recovery and takeover (see docs/restart.md).
//
// A vprocd records itself in REGISTRY_DIR/vprocd.pid ("PID STARTTIME
// MOUNTPOINT"). On start, it mounts, then a forked single-threaded child (the
// attacher: setns needs one thread, and the daemon's seccomp filter forbids
// mount calls) re-attaches every registered container. With --takeover and a
// live vprocd at the mountpoint, the new instance first mounts in a private
// spot, slides its mount beneath the old one, detaches the old one (the
// mountpoint never goes empty), and when containers are moved over, tells
// the old instance (SIGUSR2) to drain: it serves its open files until idle
// and exits without unmounting anything.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "lib/base/unique_fd.h"

namespace vproc {

struct PidRecord {
  pid_t pid = 0;
  std::uint64_t start_time = 0;
  std::string mountpoint;
};

std::string pid_record_path(const std::string& registry_dir);
// Writes this process's record atomically. Throws SysError.
void write_pid_record(const std::string& registry_dir, const std::string& mountpoint);
// The record, if present and well formed.
std::optional<PidRecord> read_pid_record(const std::string& registry_dir);

// The mount id of the top mount at path (statx, never asking a FUSE daemon).
std::uint64_t mount_id_at(int dirfd, const std::string& path);

// Sends a notification to $NOTIFY_SOCKET (systemd's Type=notify protocol);
// does nothing when the variable is unset.
void notify_service_manager(const std::string& message);

// Signals the recorded process if it is still the same one (pidfd: no race
// with pid reuse). Returns false when it is gone or another process.
bool signal_recorded(const PidRecord& rec, int sig);

}  // namespace vproc
