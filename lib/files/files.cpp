#include "lib/files/files.h"

#include <cstdlib>

namespace vproc {

namespace {

// Pressure files are served but not yet injected (the hook's set stops at
// "online").
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
     "pressure/cpu", false, true},
    {FileKind::kPressureMemory, "pressure/memory", "proc/pressure/memory", "proc/pressure/memory",
     "pressure/memory", false, true},
    {FileKind::kPressureIo, "pressure/io", "proc/pressure/io", "proc/pressure/io", "pressure/io",
     false, true},
};

}  // namespace

const std::vector<ServedFile>& served_files() { return kTable; }

const ServedFile& served_file(FileKind kind) {
  for (const ServedFile& f : kTable) {
    if (f.kind == kind) return f;
  }
  std::abort();  // a FileKind without a row is a programming error
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
