// Thin libfuse low-level adapter: lookup/getattr/readdir over the fixed tree;
// open renders the file for the caller into a per-handle buffer (direct_io:
// every reader gets its own content, the page cache never serves it); read
// returns a slice of that buffer; release frees it.
#pragma once

#include <fuse_lowlevel.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "fsd/fuse/tree.h"
#include "fsd/view/view.h"

namespace vproc::fuse {

// Open files: id (fi->fh) -> rendered content. A READ may still be replying
// from a buffer when the RELEASE of the same file arrives on another worker
// (the reader was killed mid-read), so readers hold a reference of their own.
class HandleTable {
 public:
  // Returns 0 when kMax handles are open.
  uint64_t add(std::string data, size_t max);
  std::shared_ptr<const std::string> get(uint64_t id) const;
  void remove(uint64_t id);
  size_t size() const;

 private:
  mutable std::mutex mu_;
  uint64_t next_ = 1;
  std::unordered_map<uint64_t, std::shared_ptr<const std::string>> open_;
};

struct FsContext {
  // Open files hold their rendered content; past max_handles (--max-open,
  // default 65536), open fails with ENFILE so that no reader can make vprocd's
  // memory grow without bound.
  static constexpr size_t kDefaultMaxHandles = 65536;

  view::ViewService* views;
  Tree tree;
  double timeout;  // entry and attribute cache, seconds
  struct timespec started;
  size_t max_handles = kDefaultMaxHandles;
  HandleTable handles;
  // Bumped by every LOOKUP and OPEN: a vprocd that was taken over drains
  // until nothing has looked at it for a while.
  mutable std::atomic<uint64_t> activity{0};
};

const fuse_lowlevel_ops& ops();

}  // namespace vproc::fuse
