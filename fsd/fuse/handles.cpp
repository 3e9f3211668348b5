#include "fsd/fuse/handles.h"

#include <utility>

namespace vproc::fuse {

uint64_t HandleTable::add(std::string data, size_t max) {
  auto p = std::make_shared<const std::string>(std::move(data));
  std::lock_guard<std::mutex> lock(mu_);
  if (open_.size() >= max) return 0;
  uint64_t id = next_++;
  open_.emplace(id, std::move(p));
  return id;
}

std::shared_ptr<const std::string> HandleTable::get(uint64_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = open_.find(id);
  return it == open_.end() ? nullptr : it->second;
}

size_t HandleTable::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return open_.size();
}

void HandleTable::remove(uint64_t id) {
  std::shared_ptr<const std::string> last;  // freed after the lock is dropped
  std::lock_guard<std::mutex> lock(mu_);
  auto it = open_.find(id);
  if (it == open_.end()) return;
  last = std::move(it->second);
  open_.erase(it);
}

}  // namespace vproc::fuse
