// Finding running containers from the state OCI runtimes keep on disk, so
// that `vproc-hook attach` needs no runtime binary and no daemon socket.
//
// runc writes ROOT/<id>/state.json (ROOT is /run/runc by default, which
// podman with runc uses too; containerd's runc shims use
// /run/containerd/runc/<namespace>, Docker's /run/docker/runtime-runc/moby).
// The fields read here:
//   "id"                  the container id (the directory name otherwise)
//   "init_process_pid"    host pid of the container's init
//   "init_process_start"  its start time, field 22 of /proc/PID/stat (clock
//                         ticks since boot); a decimal string in runc < 1.0
//   "config"."labels"     "key=value" strings: runc copies every annotation
//                         of config.json there and appends "bundle=<path>"
// crun writes ROOT/<id>/status (ROOT /run/crun): "pid", "process-start-time"
// (same unit, absent from old crun), "bundle".
//
// The parsers are pure (tests/hook/runtimes_test.cpp); discovery reads
// through directory fds and reports a malformed file instead of throwing, so
// one broken record does not hide the other containers.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lib/registry/registry.h"

namespace vproc::hook {

// The roots `attach` scans when none is given on the command line. Each may
// hold containers directly (ROOT/<id>/state.json, ROOT/<id>/status) or one
// level of namespaces (ROOT/<ns>/<id>/state.json, containerd's layout).
extern const std::vector<std::string> kDefaultRuntimeRoots;

struct RuntimeContainer {
  std::string id;
  std::string runtime;           // "runc" (state.json) or "crun" (status)
  std::string state_path;        // the file it was read from, for messages
  int pid = 0;                   // host pid of the container's init
  std::uint64_t start_time = 0;  // recorded start time of that pid; 0: not recorded
  std::string bundle;            // "" when the runtime recorded none
  // runc only: the annotations copied into config.labels (used when the
  // bundle's config.json cannot be read).
  std::map<std::string, std::string> label_annotations;
};

// Parse one state file. `fallback_id` is the directory name (crun's status
// has no id). Throw InputError naming `path` on malformed input.
RuntimeContainer parse_runc_state(std::string_view json, const std::string& fallback_id,
                                  const std::string& path);
RuntimeContainer parse_crun_status(std::string_view json, const std::string& id,
                                   const std::string& path);

// runc's config.labels -> (bundle, annotations). runc appends "bundle=..."
// after the annotations, so the last bundle label is runc's own even when an
// annotation happens to be called "bundle".
struct RuncLabels {
  std::string bundle;
  std::map<std::string, std::string> annotations;
};
RuncLabels split_runc_labels(const std::vector<std::string>& labels);

struct FoundContainer {
  RuntimeContainer container;  // id and state_path are always set
  std::string error;           // non-empty: the state file could not be used
};

// Every container recorded under the roots, in root order, then by name.
// A root that does not exist is skipped (that runtime is not in use here).
std::vector<FoundContainer> discover_containers(const std::vector<std::string>& roots);

// A container whose init is alive with the start time the runtime recorded,
// and that init's mount namespace.
struct LiveContainer {
  RuntimeContainer container;
  std::uint64_t start_time = 0;  // read from /proc/PID/stat now
  std::uint64_t mnt_ns = 0;      // inode of /proc/PID/ns/mnt
};

// The container PID (in mount namespace mnt_ns) belongs to: the one whose
// init it is, else the first whose init shares its mount namespace (a
// process started by `runc exec`, or any descendant of the init).
std::optional<size_t> match_pid(const std::vector<LiveContainer>& live, int pid,
                                std::uint64_t mnt_ns);

}  // namespace vproc::hook
