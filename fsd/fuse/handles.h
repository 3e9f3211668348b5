// Open files: id (the FUSE file handle, fi->fh) -> the content rendered at
// open, the kind of file it is, and whether it was read yet (a read at offset
// 0 of a handle already read renders again: procps keeps /proc/meminfo and
// /proc/stat open and re-reads them from 0 for every refresh). Ids count up from 1 and are never
// given out twice, so a late READ or RELEASE of a closed handle finds nothing rather than another
// reader's file. Thread-safe: every FUSE worker thread uses it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "lib/files/files.h"

namespace vproc::fuse {

class HandleTable {
 public:
  // The new handle's id; 0 (never an id) when `max` handles are open.
  uint64_t add(std::string data, size_t max, FileKind kind);
  // The content of handle `id`, or nullptr. A READ may still be replying from
  // it when the RELEASE of the same file arrives on another worker (the reader
  // was killed mid-read), so the caller holds a reference of its own.
  std::shared_ptr<const std::string> get(uint64_t id) const;
  // What a READ at `off` of handle `id` works from: its content (nullptr
  // when unknown) and kind, and whether that content is stale: off is 0 and
  // the handle was read before, so the caller renders again and calls
  // replace(). Marks the handle read.
  struct ForRead {
    std::shared_ptr<const std::string> data;
    FileKind kind{};
    bool stale = false;
  };
  ForRead for_read(uint64_t id, long off);
  // New content for handle `id` (still open); the content now held.
  std::shared_ptr<const std::string> replace(uint64_t id, std::string data);
  // Forgets `id`; an unknown id is ignored.
  void remove(uint64_t id);
  size_t size() const;

 private:
  mutable std::mutex mu_;
  uint64_t next_ = 1;
  struct OpenFile {
    std::shared_ptr<const std::string> data;
    FileKind kind;
    bool read = false;
  };
  std::unordered_map<uint64_t, OpenFile> open_;
};

}  // namespace vproc::fuse
