// Thin libfuse low-level adapter: lookup/getattr/readdir over the fixed tree;
// open renders the file for the caller into a per-handle buffer (direct_io:
// every reader gets its own content, the page cache never serves it); read
// returns a slice of that buffer; release frees it.
#pragma once

#include <fuse_lowlevel.h>

#include <atomic>

#include "fsd/fuse/tree.h"
#include "fsd/view/view.h"

namespace vproc::fuse {

struct FsContext {
  // Open files hold their rendered content; past this many, open fails with
  // ENFILE so that no reader can make vprocd's memory grow without bound.
  static constexpr size_t kMaxHandles = 65536;

  view::ViewService* views;
  Tree tree;
  double timeout;  // entry and attribute cache, seconds
  struct timespec started;
  std::atomic<size_t> handles{0};
};

const fuse_lowlevel_ops& ops();

}  // namespace vproc::fuse
