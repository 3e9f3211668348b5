// Reads a reader's cgroup files through one root directory fd
// (/sys/fs/cgroup in production, a fixture tree in tests).
//
// v1 files: memory.{limit_in_bytes,usage_in_bytes,memsw.*,stat} (bytes),
// cpuacct.usage_all (ns), cpu.cfs_{quota,period}_us (us), cpuset.effective_cpus,
// blkio.throttle.io_{service_bytes,serviced}_recursive.
// v2 files: memory.{max,current,swap.max,swap.current,stat} (bytes), cpu.stat
// (us), cpu.max (us), cpuset.cpus.effective, io.stat, {cpu,memory,io}.pressure.
// Limits are the tightest on the path from the cgroup up to the root.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/unique_fd.h"
#include "lib/cgroup/fd_cache.h"
#include "lib/core/parse.h"
#include "lib/core/readings.h"

namespace vproc::cgroup {

// Where each hierarchy is mounted below the cgroup root. Detected once.
struct Layout {
  std::map<std::string, std::string> v1_dir;  // "memory" -> "memory", "cpu" -> "cpu,cpuacct"
  std::optional<std::string> unified_dir;     // "" for a pure v2 root, "unified" for hybrid
  bool pure_v2() const { return unified_dir && unified_dir->empty(); }
};
Layout detect_layout(int cgroup_root_fd);
std::string describe(const Layout& layout);

// A cgroup: its hierarchy directory, its path (from /proc/<pid>/cgroup) and
// whether that hierarchy is v2.
struct Place {
  std::string hier;
  std::string path = "/";
  bool v2 = false;
  bool is_root() const { return path == "/"; }
  std::string key() const { return hier + ":" + path; }
};

// The reader's cgroup for each role vprocd reads.
struct ReaderCgroups {
  std::optional<Place> memory, cpu, cpuacct, cpuset, io, unified;
  // Who the reader is for fair shares (open files, tables): its memory, cpu
  // and unified cgroups, one string made once per resolve.
  std::string tenant;
  // Every role's cgroup, one string: readers with the same `all` get the same
  // renderings (fsd/view shares them for a millisecond).
  std::string all;
};
ReaderCgroups resolve(const Layout& layout, const core::ProcCgroup& pc);

class CgroupReader {
 public:
  // Detects the layout of the tree under root. kernel_tree: the tree is a live
  // cgroup filesystem, whose derived values (memory.stat's hierarchical
  // limits) can be trusted; nullopt = find out from the filesystem of root (or,
  // on a v1 or hybrid host, of its memory hierarchy). A copy
  // or fixture tree holds what was written into each file, so there every
  // limit file is read.
  explicit CgroupReader(UniqueFd root, std::optional<bool> kernel_tree = std::nullopt);

  const Layout& layout() const { return layout_; }
  // The tree is the kernel's (not a fixture or copy).
  bool kernel_tree() const { return kernel_tree_; }
  core::MemoryReadings memory(const Place& p) const;
  core::CpuReadings cpu_usage(const Place& cpuacct) const;
  core::CpuLimits cpu_limits(const std::optional<Place>& cpu,
                             const std::optional<Place>& cpuset) const;
  core::IoReadings io(const Place& p) const;
  // The cgroup's own "<resource>.pressure"; nullopt when it has none.
  std::optional<std::string> pressure(const Place& unified, const std::string& resource) const;
  // Thread ids in the cgroup and its descendants, at most `cap`.
  std::vector<pid_t> tasks(const Place& p, size_t cap) const;
  // An O_RDONLY|O_DIRECTORY fd of the cgroup's directory; empty when it does
  // not exist. Throws SysError on other errors.
  UniqueFd open_dir(const Place& p) const;

 private:
  std::optional<std::string> read(const Place& p, const std::string& path,
                                  const std::string& file) const;
  std::string rel(const Place& p, const std::string& path, const std::string& file) const;
  // Smallest value of a limit file over the path and its ancestors (the
  // hierarchy's root excepted: it has no limits).
  template <typename T, typename Parse, typename Less>
  std::optional<T> tightest(const Place& p, const std::string& file, Parse parse, Less less) const;

  UniqueFd root_;
  Layout layout_;
  mutable FdCache files_;
  bool kernel_tree_;  // after layout_: derived from it
};

// "/a/b" -> {"/a/b", "/a", "/"}.
std::vector<std::string> ancestors(const std::string& path);

// The CPUs a process sees, by the rule vprocd renders sys/devices/system/cpu/online
// with (core::visible_cpus): from its /proc/PID/cgroup text and the host's
// /proc/stat text. Throws SysError on malformed text.
std::vector<int> visible_cpus_of(const CgroupReader& reader, std::string_view proc_cgroup,
                                 std::string_view host_stat, core::CpuView view);

}  // namespace vproc::cgroup
