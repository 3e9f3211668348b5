// The counter state of each container (core::CounterState: the last stat,
// uptime and diskstats counters shown, so they never go back), grouped by
// cgroup. A container is keyed by its cgroup (the group) and its pid
// namespace's init (the member: a new init is a new container).
//
// Bounded twice, and never by clearing: a cgroup keeps at most kPerGroup
// containers (a tenant that churns pid namespaces evicts only its own
// least recently read ones), and all together at most kMaxStates (past it the
// least recently read eighth of the cgroups go). A tenant can thus push out
// another's state only by holding more cgroups than kMaxStates / kPerGroup.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "lib/core/readings.h"

namespace vproc::view {

class CounterTable {
 public:
  static constexpr size_t kMaxStates = 16384;
  static constexpr size_t kPerGroup = 8;

  // Runs f on the counter state of (group, member) under the table's lock,
  // creating it (fresh) when absent.
  template <typename F>
  auto with(const std::string& group, const std::string& member, F f) {
    std::lock_guard<std::mutex> lock(mu_);
    return f(find_or_add(group, member));
  }
  size_t size() const;
  bool contains(const std::string& group, const std::string& member) const;

 private:
  core::CounterState& find_or_add(const std::string& group, const std::string& member);
  void evict_groups();

  struct Member {
    std::string key;
    core::CounterState state;
    uint64_t last_used = 0;
  };
  struct Group {
    std::vector<Member> members;
    uint64_t last_used = 0;
  };
  mutable std::mutex mu_;
  std::unordered_map<std::string, Group> groups_;
  size_t total_ = 0;
  uint64_t clock_ = 0;
};

}  // namespace vproc::view
