// The files vproc serves, as one table. The FUSE tree, the st_size hints, the
// renderer dispatch, the hook's plan, `vproc-hook attach`, re-attach and the
// vproc.io/files annotation all read it; no other source names a served file.
// Adding a file is a row here, a renderer in lib/core with its tests, and a
// case in fsd/view (docs/CODING.md).
#pragma once

#include <string_view>
#include <vector>

namespace vproc {

enum class FileKind {
  kMeminfo,
  kCpuinfo,
  kStat,
  kUptime,
  kLoadavg,
  kSwaps,
  kDiskstats,
  kOnline,
  kPressureCpu,
  kPressureMemory,
  kPressureIo,
  kPossible,
  kPresent,
};

struct ServedFile {
  FileKind kind;
  const char* name;    // as vproc.io/files names it
  const char* source;  // relative to vprocd's mountpoint
  const char* target;  // relative to a container's rootfs
  const char* host;    // the host's file it is rendered from, relative to /proc (nullptr: none)
  bool injectable;     // in the hook's default set (and what vproc.io/files may name)
  bool needs_psi;      // served only where the host has /proc/pressure
};

// Every served file, in table order (the FUSE tree numbers inodes in this order).
const std::vector<ServedFile>& served_files();
// The row of `kind` (every kind has one).
const ServedFile& served_file(FileKind kind);
// The container's CPU directory. When the hook injects a file under it, it
// first gives the container its own view of the directory: the host's entries
// except the cpuN of CPUs the container does not see (lib/inject).
inline constexpr const char* kCpuDirTarget = "sys/devices/system/cpu";
// True when target is a file inside kCpuDirTarget.
bool in_cpu_dir(std::string_view target);

// The injectable rows, in table order: the hook's default set.
const std::vector<ServedFile>& injectable_files();

}  // namespace vproc
