#include "lib/files/files.h"

#include <cstdlib>

namespace vproc {

namespace {

// New rows go at the end: the FUSE tree numbers inodes in table order, and a
// vprocd taking over another keeps the kernel's inode numbers.
const std::vector<ServedFile> kTable = {
    {FileKind::kMeminfo, "meminfo", "proc/meminfo", "proc/meminfo", "meminfo", true, false},
    {FileKind::kCpuinfo, "cpuinfo", "proc/cpuinfo", "proc/cpuinfo", "cpuinfo", true, false},
    {FileKind::kStat, "stat", "proc/stat", "proc/stat", "stat", true, false},
    {FileKind::kUptime, "uptime", "proc/uptime", "proc/uptime", "uptime", true, false},
    {FileKind::kLoadavg, "loadavg", "proc/loadavg", "proc/loadavg", "loadavg", true, false},
    {FileKind::kSwaps, "swaps", "proc/swaps", "proc/swaps", "swaps", true, false},
    {FileKind::kDiskstats, "diskstats", "proc/diskstats", "proc/diskstats", "diskstats", true,
     false},
    {FileKind::kOnline, "online", "sys/devices/system/cpu/online", "sys/devices/system/cpu/online",
     nullptr, true, false},
    {FileKind::kPressureCpu, "pressure/cpu", "proc/pressure/cpu", "proc/pressure/cpu",
     "pressure/cpu", true, true},
    {FileKind::kPressureMemory, "pressure/memory", "proc/pressure/memory", "proc/pressure/memory",
     "pressure/memory", true, true},
    {FileKind::kPressureIo, "pressure/io", "proc/pressure/io", "proc/pressure/io", "pressure/io",
     true, true},
    {FileKind::kPossible, "possible", "sys/devices/system/cpu/possible",
     "sys/devices/system/cpu/possible", nullptr, true, false},
    {FileKind::kPresent, "present", "sys/devices/system/cpu/present",
     "sys/devices/system/cpu/present", nullptr, true, false},
};

}  // namespace

const std::vector<ServedFile>& served_files() { return kTable; }

const ServedFile& served_file(FileKind kind) {
  for (const ServedFile& f : kTable) {
    if (f.kind == kind) return f;
  }
  std::abort();  // a FileKind without a row is a programming error
}

bool in_cpu_dir(std::string_view target) {
  std::string_view dir = kCpuDirTarget;
  return target.size() > dir.size() && target.substr(0, dir.size()) == dir &&
         target[dir.size()] == '/';
}

const std::vector<ServedFile>& injectable_files() {
  static const std::vector<ServedFile> rows = [] {
    std::vector<ServedFile> out;
    for (const ServedFile& f : kTable) {
      if (f.injectable) out.push_back(f);
    }
    return out;
  }();
  return rows;
}

}  // namespace vproc
