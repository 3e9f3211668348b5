#include "fsd/fuse/handles.h"

#include <algorithm>
#include <cerrno>
#include <utility>

namespace vproc::fuse {

HandleQuota HandleQuota::for_max_open(size_t max_open) {
  HandleQuota q;
  q.max_open = max_open;
  q.tenant_open = std::min<size_t>(4096, std::max<size_t>(64, max_open / 8));
  return q;
}

HandleTable::Reserved HandleTable::reserve(const std::string& tenant, FileKind kind,
                                           const HandleQuota& q) {
  std::lock_guard<std::mutex> lock(mu_);
  if (open_.size() >= q.max_open) return {0, ENFILE, false};
  auto& entry = *tenants_.try_emplace(tenant).first;
  Use& u = entry.second;
  if (u.open >= q.tenant_open || u.bytes >= q.tenant_bytes) {
    bool first = !u.refused;
    u.refused = true;
    if (u.open == 0) tenants_.erase(tenant);  // holds nothing: nothing to remember
    return {0, EMFILE, first};
  }
  ++u.open;
  uint64_t id = next_++;
  open_.emplace(id, OpenFile{std::make_shared<const std::string>(), kind, false, &entry});
  return {id, 0, false};
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
    if (auto* t = it->second.tenant)
      t->second.bytes = t->second.bytes - old->size() + fresh->size();
  }
  return fresh;
}

size_t HandleTable::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return open_.size();
}

HandleTable::Use HandleTable::use_of(const std::string& tenant) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tenants_.find(tenant);
  return it == tenants_.end() ? Use{} : it->second;
}

void HandleTable::remove(uint64_t id) {
  std::shared_ptr<const std::string> last;  // freed after the lock is dropped
  std::lock_guard<std::mutex> lock(mu_);
  auto it = open_.find(id);
  if (it == open_.end()) return;
  last = std::move(it->second.data);
  auto* t = it->second.tenant;
  open_.erase(it);
  if (!t) return;
  t->second.bytes -= last->size();
  if (--t->second.open == 0) tenants_.erase(std::string(t->first));  // a copy: t dies
}

}  // namespace vproc::fuse
