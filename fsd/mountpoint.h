// Preparing the mountpoint: create it, recover it when a dead vprocd left a
// stale FUSE mount behind ("Transport endpoint is not connected"), refuse it
// when a live vprocd serves there.
#pragma once

#include <string>

namespace vproc {

enum class MountpointState {
  kFree,  // nothing live there (created, or a stale mount was peeled off)
  kLive,  // a live FUSE filesystem serves there and allow_live was set
};

// Throws SysError with a message fit for the operator; a live or hung FUSE
// mount is an error unless allow_live (--takeover) and it answers.
MountpointState prepare_mountpoint(const std::string& dir, bool allow_live = false);

}  // namespace vproc
