// Re-attach: after a vprocd restart (crash, upgrade, takeover), give every
// registered container that is still alive fresh files from this vprocd.
// Identity is the registry's pid + start time + mount namespace inode: a
// container that exited, or whose pid now belongs to another process, is
// pruned from the registry and never touched. Each container's stale vprocd
// mounts are replaced in place (lib/inject/mount_inject.h, replace mode), so the
// same code serves runc, crun, podman and containerd containers alike.
//
// Each container is re-attached in a forked child with a deadline
// (lib/inject/forked.h): a container whose own mounts hang is skipped and
// reported, and the others are attached on time.
//
// Forks: call it from a single-threaded process (vprocd forks a child for it
// before starting any thread).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "lib/proc/identity.h"

namespace vproc {

struct ReattachOptions {
  std::string registry_dir = "/run/vproc";
  std::string mountpoint;  // only entries recorded with this mountpoint
  // The new vprocd's own mount root (a directory fd). During a takeover the
  // mountpoint path still shows the old instance, so sources are opened
  // relative to this fd, never by path.
  int source_root = -1;
  // The new vprocd's container view (REGISTRY_DIR/view), when it serves one:
  // containers recorded with the view get their files from there again.
  // Empty: every container gets the per-reader files.
  std::string view_dir;
  // Each container is re-attached in a child of its own, this many at once,
  // each given up on (and counted failed) when it takes longer than this.
  std::chrono::milliseconds per_container_limit{1500};
  std::size_t parallel = 8;
};

struct ReattachReport {
  int attached = 0;                    // containers that now use source_root's files
  int pruned = 0;                      // entries removed: process gone or pid reused
  int failed = 0;                      // alive, but re-attaching failed or timed out (kept)
  int skipped = 0;                     // entries for another mountpoint, or unreadable records
  int files = 0;                       // files mounted or replaced
  std::vector<std::string> lines;      // one per container that was not simply re-attached
  std::set<std::uint64_t> namespaces;  // mount namespaces of the live records
};

ReattachReport reattach_registry(const ReattachOptions& opt);

}  // namespace vproc
