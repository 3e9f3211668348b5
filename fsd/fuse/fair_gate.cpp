#include "fsd/fuse/fair_gate.h"

#include <utility>

namespace vproc::fuse {

void FairGate::run(const std::string& tenant, Job job, bool may_queue) {
  if (!may_queue) {
    job();
    return;
  }
  {
    std::lock_guard lock(mu_);
    Lane& lane = lanes_[tenant];
    if (lane.running >= per_tenant_) {
      lane.waiting.push_back(std::move(job));
      return;
    }
    ++lane.running;
  }
  for (;;) {
    job();
    std::lock_guard lock(mu_);
    auto it = lanes_.find(tenant);
    Lane& lane = it->second;
    if (lane.waiting.empty()) {
      if (--lane.running == 0) lanes_.erase(it);
      return;
    }
    // This worker keeps the tenant's slot for its next queued job.
    job = std::move(lane.waiting.front());
    lane.waiting.pop_front();
  }
}

size_t FairGate::queued() const {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const auto& [tenant, lane] : lanes_) n += lane.waiting.size();
  return n;
}

}  // namespace vproc::fuse
