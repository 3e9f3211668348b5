// Preparing the mountpoint: create it, recover it when a dead vprocd left a
// stale FUSE mount behind ("Transport endpoint is not connected"), refuse it
// when a live vprocd serves there.
#pragma once

#include <string>

namespace vproc {

// Throws SysError with a message fit for the operator.
void prepare_mountpoint(const std::string& dir);

}  // namespace vproc
