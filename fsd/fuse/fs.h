// The libfuse low-level callbacks: each op_* runs its do_* (ops.h) and sends
// exactly one reply. Daemon state (FsContext) comes as the session's userdata.
#pragma once

#include <fuse_lowlevel.h>

#include <string>
#include <vector>

#include "fsd/fuse/ops.h"

namespace vproc::fuse {

// For fuse_session_new, with an FsContext* as userdata.
const fuse_lowlevel_ops& ops();

// As many of `list` as fit in `size` bytes, in the kernel's dirent format (a
// READDIR reply).
std::string pack_dirents(fuse_req_t req, const std::vector<DirEntry>& list, size_t size);

}  // namespace vproc::fuse
