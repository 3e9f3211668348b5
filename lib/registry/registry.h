// The registry of attached containers: one JSON file per container at
// REGISTRY_DIR/containers/<id>.json (REGISTRY_DIR is /run/vproc, a tmpfs).
// It records what a later re-attach needs: the init pid with its start time
// (field 22 of /proc/PID/stat, clock ticks since boot: a recycled pid has
// another), the mount namespace inode, the rootfs as seen inside that
// namespace, and the files mounted. Files are written to a temporary name
// and renamed, so a reader never sees half a record.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/core/readings.h"
#include "lib/inject/mount_inject.h"
#include "lib/proc/identity.h"

namespace vproc {

struct RegistryEntry {
  std::string id;
  int pid = 0;
  std::uint64_t pid_start_time = 0;  // clock ticks since boot
  std::uint64_t mnt_ns = 0;          // inode of /proc/PID/ns/mnt
  std::string rootfs;                // host path before pivot_root ("/" if attached after)
  std::string mountpoint;            // vprocd's mountpoint the files came from
  std::vector<std::string> files;    // targets mounted, relative to the rootfs
  bool container_view = false;       // mounted from vprocd's container view
  std::int64_t attached_at = 0;      // unix seconds
};

// The rule for what a record keeps of an injection: a file is recorded when
// it now serves the container from this vprocd, i.e. it was mounted, or
// replace mode found this vprocd's file already there (kAlreadyAttached).
// Every other skip is left out (and is the caller's to report).
bool recorded(const InjectOutcome& o);
// Sets e.files to the recorded targets of `outcomes`, in order, and
// e.attached_at to now. Returns whether any file was recorded.
bool record_outcomes(RegistryEntry& e, const std::vector<InjectOutcome>& outcomes);

std::string render_entry(const RegistryEntry& e);
RegistryEntry parse_entry(std::string_view json);  // throws InputError

// Container ids end up in registry file names: non-empty, at most 256 bytes,
// [A-Za-z0-9_.-] only, and not "." or "..".
bool valid_container_id(std::string_view id);

std::string entry_path(const std::string& registry_dir, const std::string& id);
// The record of `id`; nullopt when there is none (removed by a poststop hook
// meanwhile). Throws InputError when it is malformed, SysError when unreadable.
std::optional<RegistryEntry> read_entry(const std::string& registry_dir, const std::string& id);
// Creates REGISTRY_DIR/containers (0700) as needed; writes atomically. Throws SysError.
void write_entry(const std::string& registry_dir, const RegistryEntry& e);
// The ids of the records in REGISTRY_DIR/containers (none when it does not exist).
std::vector<std::string> registered_ids(const std::string& registry_dir);
// True when a record was removed; absent is not an error.
bool remove_entry(const std::string& registry_dir, const std::string& id);

// vprocd's --cpu-view, published at REGISTRY_DIR/cpu-view ("quota" or
// "cpuset") so that the hook gives a container the cpuN entries of the CPUs
// vprocd shows it. write_cpu_view creates REGISTRY_DIR as needed and throws
// SysError; read_cpu_view answers kQuota (the default) when the file is
// absent or says anything else.
void write_cpu_view(const std::string& registry_dir, core::CpuView view);
core::CpuView read_cpu_view(const std::string& registry_dir);

}  // namespace vproc
