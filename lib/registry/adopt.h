// Adoption: after a restart or takeover, vprocd also gives fresh files to
// containers it has no registry record of but whose mounts still name a dead
// (or departing) vprocd connection. These are the containers the hook did not
// register: `-v MOUNTPOINT/proc/meminfo:/proc/meminfo` binds in Docker and
// podman, Kubernetes hostPath volumes of the per-reader files, rootless
// podman containers (the hook injects them but cannot write root's
// registry). They are not registered now either: every start finds them the
// same way.
//
// Which mounts: in every mount namespace other than the host's and the
// registered containers', a `fuse.vprocd` mount whose device is not one of
// this instance's connections and whose connection is dead (statfs answers
// ENOTCONN) or is the instance being taken over. Containers that never used
// vproc, and vprocd instances serving elsewhere, are left alone. The
// mount's root inside vprocd's filesystem names the file: "/proc/meminfo" is
// the per-reader meminfo; a container view's "/PID-START/proc/meminfo" gets
// the per-reader file too (an unregistered container has no directory in the
// new view).
//
// Forks (lib/inject/forked.h): call from a single-threaded process.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "lib/inject/mountinfo.h"

namespace vproc {

// One mount to give a fresh file.
struct AdoptMount {
  std::string target;     // relative to the container's root, e.g. "proc/meminfo"
  std::string source;     // relative to vprocd's mountpoint, e.g. "proc/meminfo"
  dev_t dev = 0;          // the old connection's device
  bool optional = false;  // a pressure file (served only where the host has PSI)
};

// Pure: the fuse.vprocd mounts of one namespace's table whose device is not
// in own_devs and whose root names a file vprocd serves, one per target (the
// topmost). Mounts of other filesystems and unknown roots are left out.
std::vector<AdoptMount> adoptable_mounts(const std::vector<MountInfo>& mounts,
                                         const std::vector<dev_t>& own_devs);

// Pure: a mount root ("/proc/meminfo", "/123-456/proc/meminfo") as a source
// relative to the mountpoint, or "" when it names no served file.
std::string source_of_root(const std::string& root);

struct AdoptOptions {
  int source_root = -1;             // fd of this instance's mount root (per-reader files)
  std::vector<dev_t> own_devs;      // this instance's connections: never replaced
  std::vector<dev_t> old_devs;      // a taken-over instance's: replaced though alive
  std::set<std::uint64_t> skip_ns;  // registered containers (the registry pass had them)
  std::chrono::milliseconds per_container_limit{1500};
  std::size_t parallel = 8;
};

struct AdoptReport {
  int namespaces = 0;              // mount namespaces that got at least one fresh file
  int files = 0;                   // files replaced
  int failed = 0;                  // namespaces whose adoption failed or timed out
  std::vector<std::string> lines;  // one per namespace adopted or failed
};

AdoptReport adopt_unregistered(const AdoptOptions& opt);

}  // namespace vproc
