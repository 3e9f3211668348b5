// The libfuse callbacks of the per-container view (cview.h), with a
// ContainerView* as the session's userdata.
#pragma once

#include <fuse_lowlevel.h>

#include "fsd/fuse/cview.h"

namespace vproc::fuse {

const fuse_lowlevel_ops& view_ops();
// Whether the kernel agreed to no-open at INIT.
bool view_no_open();

}  // namespace vproc::fuse
