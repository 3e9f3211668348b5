// A minimal io_uring with 128-byte SQEs (IORING_SETUP_SQE128, which
// IORING_OP_URING_CMD needs for its command area), driven by one thread:
// io_uring_setup, the two mmaps (rings, SQEs), and the head/tail handshake
// with the kernel. No liburing: Debian 12's is too old for URING_CMD.
//
// The ring is created disabled, restricted to URING_CMD and POLL_ADD, and
// only then enabled, so that whoever drives it cannot submit anything else.
#pragma once

#include <linux/io_uring.h>
#include <sys/types.h>

#include <cstddef>

#include "lib/base/unique_fd.h"

namespace vproc::fuse {

class Ring {
 public:
  Ring() = default;
  ~Ring();
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  // Creates the ring with room for `entries` SQEs in flight. Throws SysError.
  void setup(unsigned entries);

  // A zeroed SQE (both 64-byte halves) at the tail, or nullptr when the
  // submission queue is full.
  io_uring_sqe* next_sqe();

  // Submits what is queued (and whatever an earlier failed call left) and
  // waits for at least one completion. Returns 0 or -errno.
  int submit_and_wait();

  // Calls fn(cqe) for every completion ready now, until fn returns false.
  template <typename Fn>
  void for_each_completion(Fn&& fn) {
    unsigned head = *cq_head_;
    const unsigned tail = __atomic_load_n(cq_tail_, __ATOMIC_ACQUIRE);
    while (head != tail) {
      const io_uring_cqe cqe = cqes_[head & cq_mask_];
      ++head;
      __atomic_store_n(cq_head_, head, __ATOMIC_RELEASE);
      if (!fn(cqe)) return;
    }
  }

 private:
  char* map(size_t len, off_t what);
  void map_rings(const io_uring_params& p);
  void restrict_and_enable();

  UniqueFd fd_;
  char* ring_ = nullptr;
  size_t ring_len_ = 0;
  char* sqes_ = nullptr;
  size_t sqes_len_ = 0;
  unsigned* sq_head_ = nullptr;
  unsigned* sq_tail_ = nullptr;
  unsigned sq_mask_ = 0;
  unsigned* sq_array_ = nullptr;
  unsigned* cq_head_ = nullptr;
  unsigned* cq_tail_ = nullptr;
  unsigned cq_mask_ = 0;
  io_uring_cqe* cqes_ = nullptr;
  unsigned sq_entries_ = 0;
  unsigned queued_ = 0;
};

}  // namespace vproc::fuse
