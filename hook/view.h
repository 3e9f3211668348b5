// `--view container`: the hook mounts the container's own files from vprocd's
// per-container view (REGISTRY_DIR/view/<pid>-<start>/..., fsd/fuse/cview.h)
// instead of the per-reader files, when vprocd serves that view.
#pragma once

#include <cstdint>
#include <string>

#include "lib/inject/attach.h"

namespace vproc::hook {

// The container view's directory under a registry directory.
std::string view_dir(const std::string& registry_dir);

// Points req's sources (per-reader files under req.mountpoint) at the
// container's directory in the view when a vprocd view is mounted at
// view_dir(registry_dir); the init's start time names that directory. Checks
// the mount table only, so a hung vprocd cannot block it here (the bounded
// worker meets it). Returns "" when it did, else why not (for one log line);
// the sources stay the per-reader files then.
std::string use_container_view(AttachRequest& req, const std::string& registry_dir,
                               std::uint64_t start_time);

}  // namespace vproc::hook
