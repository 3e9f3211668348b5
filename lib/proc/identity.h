// Process identity: a pid is only a name, reused after the process exits. A
// process is identified by its pid plus its start time (field 22 of
// /proc/PID/stat, clock ticks since boot: a recycled pid has another) and,
// where it matters, the inode of its mount namespace. Everything is read
// through a proc root directory fd: the host's /proc in production, a
// fixture tree in tests.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "lib/base/unique_fd.h"

namespace vproc {

// PID_MAX_LIMIT on 64-bit Linux: no pid is above it.
inline constexpr long kMaxPid = 4194304;

// A directory fd of the host's /proc, opened once (O_PATH) and kept.
int host_proc();

// Field 22 (starttime) of a /proc/PID/stat line, as lib/core/parse.h
// try_parse_pid_stat reads it; nullopt when the line breaks the format.
std::optional<std::uint64_t> parse_start_time(std::string_view stat_line);

// The start time of PID and the inode of its mount namespace; nullopt when
// it is gone (or pid is out of range). Throw SysError when proc says
// something unexpected.
std::optional<std::uint64_t> process_start_time(int pid, int proc_root = host_proc());
std::optional<std::uint64_t> mount_ns_inode(int pid, int proc_root = host_proc());

// An fd of PID's mount namespace (PID/ns/mnt), for setns() or fstat().
// Throws SysError naming /proc/PID/ns/mnt when it cannot be opened.
UniqueFd open_mount_ns(int pid, int proc_root = host_proc());

// Both at once: who PID is now.
struct ProcessIdentity {
  std::uint64_t start_time = 0;
  std::uint64_t mnt_ns = 0;
};
std::optional<ProcessIdentity> identify(int pid, int proc_root = host_proc());

// True when PID is alive with this start time and, when mnt_ns is non-zero,
// in this mount namespace. Unreadable counts as not the same.
bool same_process(int pid, std::uint64_t start_time, std::uint64_t mnt_ns,
                  int proc_root = host_proc());

// The mount namespace of pid 1 (the host's), or 0 when we may not see it (a
// sandbox can deny it; absent, not an error).
std::uint64_t init_mount_ns(int proc_root = host_proc());

// Whether a process in mount namespace `ns` shares the host's: ours, or pid
// 1's. Also true when our own cannot be read (nothing can be told apart).
bool is_host_mount_ns(std::uint64_t ns, int proc_root = host_proc());

}  // namespace vproc
