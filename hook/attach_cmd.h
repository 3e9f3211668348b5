// `vproc-hook attach`: injects vprocd's files into containers that are
// already running (started before vprocd existed, or without the hook).
//
// Containers are found from the runtimes' state on disk (hook/runtimes.h);
// their annotations come from BUNDLE/config.json and pass the same policy as
// the hook (hook/plan.h make_plan). Each container's identity is its init's
// pid + start time (checked against what the runtime recorded, and again by
// the injection after it opened the namespace) + mount namespace inode. It
// has pivoted, so the rootfs is "/" in its namespace. The injection runs in
// replace mode (a dead vprocd's file is replaced, a live one's is left as
// is), bounded by a deadline per container (lib/inject/attach.h), and a registry
// record lets a later vprocd restart re-attach the container.
//
// A process in the caller's own mount namespace (or init's) is never a
// target: mounting there would cover the host's /proc.
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "hook/plan.h"
#include "lib/inject/mount_inject.h"

namespace vproc::hook {

struct AttachCommand {
  std::string mountpoint = "/var/lib/vproc";
  std::string registry_dir = "/run/vproc";
  Policy policy = Policy::kOptOut;
  int timeout_ms = 2000;                   // deadline per container
  std::vector<std::string> runtime_roots;  // kDefaultRuntimeRoots when empty
  int pid = 0;                             // --pid (0: --all)
  bool all = false;
  bool dry_run = false;
  bool container_view = false;  // --view container (hook/view.h)
};

// Runs the command. One line per container goes to `out`:
//   attached ID (pid N): meminfo, cpuinfo, ...
//   skipped ID: REASON
//   would attach ID (pid N): meminfo, ...          (dry run)
// Errors go to `err`, one line each. Returns the exit status: 0 when every
// selected container was attached or deliberately skipped, 1 when any failed.
int run_attach_command(const AttachCommand& cmd, std::ostream& out,
                       const std::function<void(const std::string&)>& err);

// "proc/meminfo" -> "meminfo" (the vproc.io/files name); unknown targets as is.
std::string file_name_of(const std::string& target);

// Skipped outcomes grouped by reason, in first-seen order:
// "already attached to this vprocd (meminfo, cpuinfo); REASON (online)".
// When one reason covers `total` files (all of them), the names are left out.
std::string summarize_skips(const std::vector<InjectOutcome>& skipped, size_t total);

}  // namespace vproc::hook
