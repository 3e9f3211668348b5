// Open files: id (the FUSE file handle, fi->fh) -> the content rendered at
// open. Ids count up from 1 and are never given out twice, so a late READ or
// RELEASE of a closed handle finds nothing rather than another reader's file.
// Thread-safe: every FUSE worker thread uses it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace vproc::fuse {

class HandleTable {
 public:
  // The new handle's id; 0 (never an id) when `max` handles are open.
  uint64_t add(std::string data, size_t max);
  // The content of handle `id`, or nullptr. A READ may still be replying from
  // it when the RELEASE of the same file arrives on another worker (the reader
  // was killed mid-read), so the caller holds a reference of its own.
  std::shared_ptr<const std::string> get(uint64_t id) const;
  // Forgets `id`; an unknown id is ignored.
  void remove(uint64_t id);
  size_t size() const;

 private:
  mutable std::mutex mu_;
  uint64_t next_ = 1;
  std::unordered_map<uint64_t, std::shared_ptr<const std::string>> open_;
};

}  // namespace vproc::fuse
