#include "fsd/fuse/handles.h"

#include <utility>

namespace vproc::fuse {

uint64_t HandleTable::add(std::string data, size_t max, FileKind kind) {
  auto p = std::make_shared<const std::string>(std::move(data));
  std::lock_guard<std::mutex> lock(mu_);
  if (open_.size() >= max) return 0;
  uint64_t id = next_++;
  open_.emplace(id, OpenFile{std::move(p), kind, false});
  return id;
}

std::shared_ptr<const std::string> HandleTable::get(uint64_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = open_.find(id);
  return it == open_.end() ? nullptr : it->second.data;
}

HandleTable::ForRead HandleTable::for_read(uint64_t id, long off) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = open_.find(id);
  if (it == open_.end()) return {};
  ForRead r{it->second.data, it->second.kind, off == 0 && it->second.read};
  it->second.read = true;
  return r;
}

std::shared_ptr<const std::string> HandleTable::replace(uint64_t id, std::string data) {
  auto fresh = std::make_shared<const std::string>(std::move(data));
  std::shared_ptr<const std::string> old;  // freed after the lock is dropped
  std::lock_guard<std::mutex> lock(mu_);
  auto it = open_.find(id);
  if (it != open_.end()) {
    old = std::move(it->second.data);
    it->second.data = fresh;
  }
  return fresh;
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
  last = std::move(it->second.data);
  open_.erase(it);
}

}  // namespace vproc::fuse
