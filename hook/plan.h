// Pure planning for vproc-hook: OCI state JSON (stdin) + the bundle's
// config.json text -> what to inject where. No syscalls, so every rule is a
// unit test on strings (tests/hook/plan_test.cpp).
//
// State (runtime-spec "state"): id, pid, bundle (old runtimes: bundlePath),
// status (any; crun says "created" even at prestart), annotations.
// Config: root.path (absolute, or relative to the bundle), annotations.
// Policy annotations (state's win over config's for the same key):
//   vproc.io/enable  "true" | "false"   (absent: inject under the opt-out
//                                        policy, skip under opt-in)
//   vproc.io/files   comma list of injectable names (lib/files), narrowing the set
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/sys_error.h"
#include "lib/files/files.h"

namespace vproc::hook {

// What an absent vproc.io/enable means. opt-out (the default): inject; the
// runtime's registration decides which containers run the hook (hooks.d
// "when"), and "false" opts one out. opt-in: skip, so that the hook can sit in
// every container's spec (containerd's base_runtime_spec) and pick the ones
// annotated "true" itself.
enum class Policy { kOptOut, kOptIn };

struct State {
  std::string id;
  int pid = 0;  // 0 when absent (allowed only at poststop)
  std::string bundle;
  std::string status;
  std::map<std::string, std::string> annotations;
};

struct Config {
  std::string root_path;
  std::map<std::string, std::string> annotations;
};

struct PlannedFile {
  std::string name;
  std::string source;     // absolute host path under the mountpoint
  std::string target;     // relative to the rootfs
  bool optional = false;  // served only where the host has PSI (see InjectFile)
};

struct Plan {
  bool inject = false;
  std::string why_not;  // set when inject is false
  std::string rootfs;   // absolute host path of the rootfs (before pivot_root)
  std::vector<PlannedFile> files;
};

State parse_state(std::string_view json);
// The container id for log lines even when the rest of the state is bad:
// the valid "id" string, or "" when there is none.
std::string peek_id(std::string_view json);
Config parse_config(std::string_view json);

// "meminfo, cpuinfo,online" -> names in injectable_files() order, deduplicated.
// Throws InputError on an unknown name or an empty list.
std::vector<std::string> parse_files_list(std::string_view list);

// Annotations of the state over those of the config.
std::map<std::string, std::string> merged_annotations(const State& s, const Config& c);

// root.path resolved against the bundle; lexically normalised.
std::string resolve_rootfs(const std::string& bundle, const std::string& root_path);

Plan make_plan(const State& s, const Config& c, const std::string& mountpoint,
               Policy policy = Policy::kOptOut);

}  // namespace vproc::hook
