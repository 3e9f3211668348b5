// Fair shares of vprocd's worker threads between tenants.
//
// The kernel queues every reader's FUSE requests in one FIFO and libfuse's
// workers take them in order, so a tenant with many readers in flight gets
// that many workers. While vprocd has CPU to spare that costs the others
// little; once vprocd itself is the bottleneck (a big host, a slow build, a
// tenant with thousands of reading threads) the others' reads wait behind it.
//
// The gate lets a tenant (the reader's cgroups) run at most `per_tenant`
// renderings at a time. A further job of that tenant is queued, without a
// reply, and the worker goes back for the next request; the queued job runs,
// in arrival order, on the worker that finishes one of the tenant's running
// jobs. Other tenants' requests never wait behind the queue. Invariant: a
// tenant with queued jobs has `per_tenant` jobs running, so every queued job
// runs.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

namespace vproc::fuse {

class FairGate {
 public:
  using Job = std::function<void()>;

  explicit FairGate(unsigned per_tenant) { set_per_tenant(per_tenant); }
  FairGate(const FairGate&) = delete;
  FairGate& operator=(const FairGate&) = delete;

  // Runs `job` here, and then any of `tenant`'s jobs queued meanwhile; or
  // queues it when the tenant runs its share already. `job` must not throw.
  // may_queue false (a request whose reply must be sent before this call
  // returns: one from an io_uring ring): runs `job` here, outside the shares.
  void run(const std::string& tenant, Job job, bool may_queue = true);

  // Before serving (main sets one per 8 of --threads).
  void set_per_tenant(unsigned n) { per_tenant_ = n == 0 ? 1 : n; }
  unsigned per_tenant() const { return per_tenant_; }
  // Jobs queued now, over all tenants (tests, logs).
  size_t queued() const;

 private:
  struct Lane {
    unsigned running = 0;
    std::deque<Job> waiting;
  };
  unsigned per_tenant_ = 1;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Lane> lanes_;
};

}  // namespace vproc::fuse
