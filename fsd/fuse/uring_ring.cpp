#include "fsd/fuse/uring_ring.h"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "lib/base/sys_error.h"

namespace vproc::fuse {

void Ring::setup(unsigned entries) {
  io_uring_params p{};
  p.flags = IORING_SETUP_SQE128 | IORING_SETUP_CQSIZE | IORING_SETUP_R_DISABLED;
  p.cq_entries = entries * 2;
  const int fd = static_cast<int>(::syscall(__NR_io_uring_setup, entries, &p));
  if (fd < 0) throw SysError("io_uring_setup", "", errno);
  fd_.reset(fd);
  if (!(p.features & IORING_FEAT_SINGLE_MMAP)) {
    throw SysError("io_uring_setup", "", "the kernel lacks IORING_FEAT_SINGLE_MMAP");
  }
  map_rings(p);
  restrict_and_enable();
}

void Ring::map_rings(const io_uring_params& p) {
  ring_len_ = std::max(p.sq_off.array + p.sq_entries * sizeof(unsigned),
                       p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe));
  ring_ = map(ring_len_, IORING_OFF_SQ_RING);
  sqes_len_ = p.sq_entries * 2 * sizeof(io_uring_sqe);  // SQE128: two slots each
  sqes_ = map(sqes_len_, IORING_OFF_SQES);
  auto at = [&](std::uint32_t off) { return reinterpret_cast<unsigned*>(ring_ + off); };
  sq_head_ = at(p.sq_off.head);
  sq_tail_ = at(p.sq_off.tail);
  sq_mask_ = *at(p.sq_off.ring_mask);
  sq_array_ = at(p.sq_off.array);
  cq_head_ = at(p.cq_off.head);
  cq_tail_ = at(p.cq_off.tail);
  cq_mask_ = *at(p.cq_off.ring_mask);
  cqes_ = reinterpret_cast<io_uring_cqe*>(ring_ + p.cq_off.cqes);
  sq_entries_ = p.sq_entries;
}

// Only the operations the transport submits, then enable.
void Ring::restrict_and_enable() {
  io_uring_restriction r[2]{};
  r[0].opcode = IORING_RESTRICTION_SQE_OP;
  r[0].sqe_op = IORING_OP_URING_CMD;
  r[1].opcode = IORING_RESTRICTION_SQE_OP;
  r[1].sqe_op = IORING_OP_POLL_ADD;
  if (::syscall(__NR_io_uring_register, fd_.get(), IORING_REGISTER_RESTRICTIONS, r, 2) != 0) {
    throw SysError("io_uring_register", "restrictions", errno);
  }
  if (::syscall(__NR_io_uring_register, fd_.get(), IORING_REGISTER_ENABLE_RINGS, nullptr, 0) != 0) {
    throw SysError("io_uring_register", "enable", errno);
  }
}

Ring::~Ring() {
  if (sqes_) ::munmap(sqes_, sqes_len_);
  if (ring_) ::munmap(ring_, ring_len_);
}

io_uring_sqe* Ring::next_sqe() {
  const unsigned unsubmitted = *sq_tail_ - __atomic_load_n(sq_head_, __ATOMIC_ACQUIRE);
  if (unsubmitted + queued_ >= sq_entries_) return nullptr;
  const unsigned tail = *sq_tail_ + queued_;
  const unsigned idx = tail & sq_mask_;
  auto* sqe = reinterpret_cast<io_uring_sqe*>(sqes_ + idx * 2 * sizeof(io_uring_sqe));
  std::memset(sqe, 0, 2 * sizeof(io_uring_sqe));
  sq_array_[idx] = idx;
  ++queued_;
  return sqe;
}

int Ring::submit_and_wait() {
  const unsigned tail = *sq_tail_ + queued_;
  __atomic_store_n(sq_tail_, tail, __ATOMIC_RELEASE);
  queued_ = 0;
  const unsigned to_submit = tail - __atomic_load_n(sq_head_, __ATOMIC_ACQUIRE);
  const long n =
      ::syscall(__NR_io_uring_enter, fd_.get(), to_submit, 1, IORING_ENTER_GETEVENTS, nullptr, 0);
  if (n < 0) return -errno;
  return 0;
}

char* Ring::map(size_t len, off_t what) {
  void* p =
      ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_.get(), what);
  if (p == MAP_FAILED) throw SysError("mmap", "io_uring", errno);
  return static_cast<char*>(p);
}

}  // namespace vproc::fuse
