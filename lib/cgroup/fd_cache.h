// Open file descriptors for files read again and again (cgroup files, the
// host's /proc files), re-read with pread at offset 0 (lib/base/io.h
// pread_file): no open and close per read. Syscalls are the cost that matters
// here: on a virtual machine each one costs microseconds.
//
// A cgroup that is removed makes its open files fail with ENODEV; such an fd
// is dropped and the path opened again (a new cgroup of the same name is a new
// file). At most kMaxEntries fds are kept; the oldest go first. Only files on
// cgroupfs, procfs and sysfs are kept open (see kernel_generated()).
#pragma once

#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "lib/base/unique_fd.h"

namespace vproc {

class FdCache {
 public:
  static constexpr size_t kMaxEntries = 8192;

  // max_entries: kMaxEntries but in tests, which need no thousands of fds.
  explicit FdCache(int root, size_t max_entries = kMaxEntries)
      : root_(root), max_entries_(max_entries) {}
  // The file's contents; nullopt when it does not exist. Throws SysError,
  // naming the file as display_prefix + rel.
  std::optional<std::string> read(const std::string& rel, std::string_view display_prefix);
  // The fd is on cgroupfs, procfs or sysfs.
  static bool kernel_generated(int fd);
  // A kept file the kernel prints as one record (pread_file's one_record):
  // the host's meminfo, stat, uptime and loadavg, and cgroup control files
  // (a name with a dot, in a directory) but cgroup.* (cgroup.procs and
  // cgroup.threads are lists). Not cpuinfo, diskstats, swaps: a record a line.
  static bool one_record(std::string_view rel);

 private:
  std::shared_ptr<UniqueFd> get(const std::string& rel);
  void put(const std::string& rel, std::shared_ptr<UniqueFd> fd);
  void drop(const std::string& rel);

  int root_;
  size_t max_entries_;
  mutable std::mutex mu_;
  std::list<std::string> order_;  // most recently added first
  struct Entry {
    std::shared_ptr<UniqueFd> fd;
    std::list<std::string>::iterator pos;
  };
  std::unordered_map<std::string, Entry> fds_;
};

}  // namespace vproc
