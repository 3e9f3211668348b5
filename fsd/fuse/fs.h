// The libfuse low-level callbacks: each op_* runs its do_* (ops.h) and sends
// exactly one reply. Daemon state (FsContext) comes as the session's userdata.
#pragma once

#include <fuse_lowlevel.h>

#include "fsd/fuse/ops.h"

namespace vproc::fuse {

// For fuse_session_new, with an FsContext* as userdata.
const fuse_lowlevel_ops& ops();

}  // namespace vproc::fuse
