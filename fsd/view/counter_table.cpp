#include "fsd/view/counter_table.h"

#include <algorithm>

namespace vproc::view {

core::CounterState& CounterTable::find_or_add(const std::string& group, const std::string& member) {
  const uint64_t now = ++clock_;
  auto g = groups_.find(group);
  if (g != groups_.end()) {
    g->second.last_used = now;
    for (Member& m : g->second.members) {
      if (m.key == member) {
        m.last_used = now;
        return m.state;
      }
    }
  }
  if (total_ >= kMaxStates) {
    evict_groups();
    g = groups_.find(group);
  }
  if (g == groups_.end()) g = groups_.emplace(group, Group{{}, now}).first;
  std::vector<Member>& ms = g->second.members;
  if (ms.size() >= kPerGroup) {
    // This cgroup's own least recently read container goes, no other's.
    auto oldest = std::min_element(ms.begin(), ms.end(), [](const Member& a, const Member& b) {
      return a.last_used < b.last_used;
    });
    ms.erase(oldest);
    --total_;
  }
  ms.push_back(Member{member, {}, now});
  ++total_;
  return ms.back().state;
}

void CounterTable::evict_groups() {
  // The least recently read eighth of the cgroups; their next read starts afresh.
  std::vector<std::pair<uint64_t, const std::string*>> by_age;
  by_age.reserve(groups_.size());
  for (const auto& [k, g] : groups_) by_age.emplace_back(g.last_used, &k);
  const size_t n = std::max<size_t>(1, by_age.size() / 8);
  std::nth_element(by_age.begin(), by_age.begin() + static_cast<long>(n - 1), by_age.end());
  std::vector<std::string> gone;
  for (size_t i = 0; i < n; ++i) gone.push_back(*by_age[i].second);
  for (const std::string& k : gone) {
    auto it = groups_.find(k);
    total_ -= it->second.members.size();
    groups_.erase(it);
  }
}

size_t CounterTable::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return total_;
}

bool CounterTable::contains(const std::string& group, const std::string& member) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto g = groups_.find(group);
  if (g == groups_.end()) return false;
  return std::any_of(g->second.members.begin(), g->second.members.end(),
                     [&](const Member& m) { return m.key == member; });
}

}  // namespace vproc::view
