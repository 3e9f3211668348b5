#include "fsd/fuse/uring.h"

#include <fcntl.h>
#include <linux/fuse.h>
#include <linux/io_uring.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "lib/base/io.h"
#include "lib/base/log.h"
#include "lib/base/sys_error.h"
#include "lib/base/unique_fd.h"
#include "lib/core/parse.h"

namespace vproc::fuse {
namespace {

// The FUSE-over-io_uring ABI (protocol 7.42, Linux 6.14). Debian 12's kernel
// headers (6.1) predate it, so it is spelled out here.
constexpr uint32_t kFlag2OverIoUring = 1u << (41 - 32);  // FUSE_OVER_IO_URING in flags2
constexpr uint32_t kCmdRegister = 1;                     // FUSE_IO_URING_CMD_REGISTER
constexpr uint32_t kCmdCommitAndFetch = 2;               // FUSE_IO_URING_CMD_COMMIT_AND_FETCH
constexpr size_t kOpInSize = 128;                        // FUSE_URING_OP_IN_OUT_SZ

struct RingEntInOut {
  uint64_t flags;
  uint64_t commit_id;  // the request's unique id, to be named in the commit
  uint32_t payload_sz;
  uint32_t padding;
  uint64_t reserved;
};
struct RingReqHeader {
  char in_out[128];       // fuse_in_header of a request / fuse_out_header of a reply
  char op_in[kOpInSize];  // the request's fixed-size argument, if its opcode has one
  RingEntInOut ent;
};
struct RingCmdReq {  // in the command area of a 128-byte SQE
  uint64_t flags;
  uint64_t commit_id;
  uint16_t qid;
  uint8_t padding[6];
};
static_assert(sizeof(RingReqHeader) == 288);
static_assert(sizeof(RingCmdReq) == 24);

constexpr unsigned kEntriesPerQueue = 4;
constexpr uint64_t kStopTag = ~uint64_t{0};
constexpr const char* kEnableKnob = "/sys/module/fuse/parameters/enable_uring";

// A minimal io_uring with 128-byte SQEs, driven by one thread.
class Ring {
 public:
  void setup(unsigned entries) {
    io_uring_params p{};
    p.flags = IORING_SETUP_SQE128 | IORING_SETUP_CQSIZE | IORING_SETUP_R_DISABLED;
    p.cq_entries = entries * 2;
    int fd = static_cast<int>(::syscall(__NR_io_uring_setup, entries, &p));
    if (fd < 0) throw SysError("io_uring_setup", "", errno);
    fd_.reset(fd);
    if (!(p.features & IORING_FEAT_SINGLE_MMAP)) {
      throw SysError("io_uring_setup", "", "the kernel lacks IORING_FEAT_SINGLE_MMAP");
    }
    ring_len_ = std::max(p.sq_off.array + p.sq_entries * sizeof(unsigned),
                         p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe));
    ring_ = map(ring_len_, IORING_OFF_SQ_RING);
    sqes_len_ = p.sq_entries * 2 * sizeof(io_uring_sqe);  // SQE128: two slots each
    sqes_ = map(sqes_len_, IORING_OFF_SQES);
    auto at = [&](uint32_t off) { return reinterpret_cast<unsigned*>(ring_ + off); };
    sq_head_ = at(p.sq_off.head);
    sq_tail_ = at(p.sq_off.tail);
    sq_mask_ = *at(p.sq_off.ring_mask);
    sq_array_ = at(p.sq_off.array);
    cq_head_ = at(p.cq_off.head);
    cq_tail_ = at(p.cq_off.tail);
    cq_mask_ = *at(p.cq_off.ring_mask);
    cqes_ = reinterpret_cast<io_uring_cqe*>(ring_ + p.cq_off.cqes);
    sq_entries_ = p.sq_entries;

    // Only the operations the transport submits, then enable.
    io_uring_restriction r[2]{};
    r[0].opcode = IORING_RESTRICTION_SQE_OP;
    r[0].sqe_op = IORING_OP_URING_CMD;
    r[1].opcode = IORING_RESTRICTION_SQE_OP;
    r[1].sqe_op = IORING_OP_POLL_ADD;
    if (::syscall(__NR_io_uring_register, fd, IORING_REGISTER_RESTRICTIONS, r, 2) != 0) {
      throw SysError("io_uring_register", "restrictions", errno);
    }
    if (::syscall(__NR_io_uring_register, fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0) != 0) {
      throw SysError("io_uring_register", "enable", errno);
    }
  }

  ~Ring() {
    if (sqes_) ::munmap(sqes_, sqes_len_);
    if (ring_) ::munmap(ring_, ring_len_);
  }

  // A zeroed SQE at the tail, or nullptr when the submission queue is full.
  io_uring_sqe* next_sqe() {
    const unsigned unsubmitted = *sq_tail_ - __atomic_load_n(sq_head_, __ATOMIC_ACQUIRE);
    if (unsubmitted + queued_ >= sq_entries_) return nullptr;
    unsigned tail = *sq_tail_ + queued_;
    unsigned idx = tail & sq_mask_;
    auto* sqe = reinterpret_cast<io_uring_sqe*>(sqes_ + idx * 2 * sizeof(io_uring_sqe));
    std::memset(sqe, 0, 2 * sizeof(io_uring_sqe));
    sq_array_[idx] = idx;
    ++queued_;
    return sqe;
  }

  // Submits what is queued (and whatever an earlier failed call left) and
  // waits for at least one completion. Returns 0 or -errno.
  int submit_and_wait() {
    const unsigned tail = *sq_tail_ + queued_;
    __atomic_store_n(sq_tail_, tail, __ATOMIC_RELEASE);
    queued_ = 0;
    const unsigned to_submit = tail - __atomic_load_n(sq_head_, __ATOMIC_ACQUIRE);
    long n =
        ::syscall(__NR_io_uring_enter, fd_.get(), to_submit, 1, IORING_ENTER_GETEVENTS, nullptr, 0);
    if (n < 0) return -errno;
    return 0;
  }

  // Calls fn(cqe) for every completion ready now.
  template <typename Fn>
  void for_each_completion(Fn&& fn) {
    unsigned head = *cq_head_;
    unsigned tail = __atomic_load_n(cq_tail_, __ATOMIC_ACQUIRE);
    while (head != tail) {
      io_uring_cqe cqe = cqes_[head & cq_mask_];
      ++head;
      __atomic_store_n(cq_head_, head, __ATOMIC_RELEASE);
      if (!fn(cqe)) return;
    }
  }

 private:
  char* map(size_t len, off_t what) {
    void* p =
        ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd_.get(), what);
    if (p == MAP_FAILED) throw SysError("mmap", "io_uring", errno);
    return static_cast<char*>(p);
  }

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

struct Entry {
  std::unique_ptr<RingReqHeader> header;
  std::unique_ptr<char[]> payload;
  iovec iov[2]{};
  uint32_t last_cmd = kCmdRegister;
  uint64_t commit_id = 0;
  bool replied = false;
};

// The ring entry whose request this thread is processing: libfuse's reply
// (through the writev hook) goes into it instead of /dev/fuse.
thread_local Entry* tl_entry = nullptr;

// Highest possible CPU + 1: the kernel keeps one queue per possible CPU and
// uses the ring only once every queue has an entry.
unsigned possible_cpus() {
  try {
    if (auto text = read_file_at(AT_FDCWD, "/sys/devices/system/cpu/possible")) {
      auto cpus = core::parse_cpu_list(*text);  // ascending
      if (!cpus.empty()) return static_cast<unsigned>(cpus.back()) + 1;
    }
  } catch (const std::exception&) {
  }
  return static_cast<unsigned>(std::max(1L, ::sysconf(_SC_NPROCESSORS_CONF)));
}

}  // namespace

struct UringTransport::Impl {
  struct Queue {
    unsigned qid = 0;
    Ring ring;
    UniqueFd stop_fd;
    std::vector<Entry> entries;
    std::vector<char> request;  // a request rebuilt in the /dev/fuse layout
    std::thread thread;
  };

  fuse_session* se = nullptr;
  std::vector<std::unique_ptr<Queue>> queues;

  // INIT, as seen by the hooks (the kernel sends nothing else before INIT's reply).
  std::atomic<bool> init_seen{false};
  std::atomic<uint64_t> init_unique{0};
  std::atomic<bool> offered{false};
  std::atomic<bool> init_replied{false};

  std::mutex mu;
  std::condition_variable cv;
  bool decided = false;  // the INIT reply went out (or the session ended)
  bool granted = false;  // ... and asked for io_uring
  bool stopping = false;
  size_t payload_size = 0;

  std::atomic<uint64_t> served{0};
  std::atomic<bool> register_failed_logged{false};
  std::atomic<bool> enter_failed_logged{false};
  std::atomic<bool> commit_failed_logged{false};

  void decide(bool grant, size_t payload) {
    {
      std::lock_guard<std::mutex> lk(mu);
      if (decided) return;
      decided = true;
      granted = grant;
      payload_size = payload;
    }
    cv.notify_all();
  }

  void run_queue(Queue& q);
  void serve(Queue& q, Entry& e);
  void queue_cmd(Queue& q, Entry& e, size_t index);
};

namespace {

UringTransport::Impl* g_impl = nullptr;

ssize_t hook_read(int fd, void* buf, size_t len, void*) {
  ssize_t n = ::read(fd, buf, len);
  UringTransport::Impl* im = g_impl;
  if (im == nullptr || n < static_cast<ssize_t>(sizeof(fuse_in_header)) ||
      im->init_seen.load(std::memory_order_acquire)) {
    return n;
  }
  fuse_in_header h;
  std::memcpy(&h, buf, sizeof h);
  if (h.opcode != FUSE_INIT) return n;
  fuse_init_in in{};
  std::memcpy(&in, static_cast<char*>(buf) + sizeof h,
              std::min(sizeof in, static_cast<size_t>(n) - sizeof h));
  im->init_unique.store(h.unique);
  im->offered.store((in.flags & FUSE_INIT_EXT) && (in.flags2 & kFlag2OverIoUring));
  im->init_seen.store(true, std::memory_order_release);
  if (!im->offered.load()) {
    log_line("vprocd: io_uring: the kernel did not offer it in INIT; serving through /dev/fuse");
    im->decide(false, 0);
  }
  return n;
}

// A reply for the ring entry this thread is serving: header and payload go
// into the entry's buffers.
ssize_t capture_reply(Entry& e, const iovec* iov, int count, size_t payload_size) {
  size_t total = 0;
  for (int i = 0; i < count; ++i) total += iov[i].iov_len;
  if (count < 1 || iov[0].iov_len != sizeof(fuse_out_header)) {
    errno = EINVAL;
    return -1;
  }
  fuse_out_header oh;
  std::memcpy(&oh, iov[0].iov_base, sizeof oh);
  size_t len = 0;
  for (int i = 1; i < count; ++i) {
    if (len + iov[i].iov_len > payload_size) {  // cannot happen within max_write
      oh.error = -EIO;
      len = 0;
      break;
    }
    std::memcpy(e.payload.get() + len, iov[i].iov_base, iov[i].iov_len);
    len += iov[i].iov_len;
  }
  oh.len = static_cast<uint32_t>(sizeof oh + len);
  std::memcpy(e.header->in_out, &oh, sizeof oh);
  e.header->ent.payload_sz = static_cast<uint32_t>(len);
  e.replied = true;
  return static_cast<ssize_t>(total);
}

ssize_t hook_writev(int fd, struct iovec* iov, int count, void*) {
  UringTransport::Impl* im = g_impl;
  if (im == nullptr) return ::writev(fd, iov, count);
  if (Entry* e = tl_entry) return capture_reply(*e, iov, count, im->payload_size);
  if (!im->offered.load(std::memory_order_relaxed) ||
      im->init_replied.load(std::memory_order_relaxed) || count != 2 ||
      iov[0].iov_len != sizeof(fuse_out_header) ||
      iov[1].iov_len < offsetof(fuse_init_out, flags2) + sizeof(uint32_t)) {
    return ::writev(fd, iov, count);
  }
  fuse_out_header oh;
  std::memcpy(&oh, iov[0].iov_base, sizeof oh);
  if (oh.unique != im->init_unique.load() || im->init_replied.exchange(true)) {
    return ::writev(fd, iov, count);
  }
  if (oh.error != 0) {
    ssize_t n = ::writev(fd, iov, count);
    im->decide(false, 0);
    return n;
  }
  // libfuse's INIT reply: ask for io_uring too.
  alignas(8) char out[sizeof(fuse_init_out)]{};
  const size_t out_len = std::min(sizeof out, iov[1].iov_len);
  std::memcpy(out, iov[1].iov_base, out_len);
  fuse_init_out init;
  std::memcpy(&init, out, sizeof init);
  init.flags |= FUSE_INIT_EXT;
  init.flags2 |= kFlag2OverIoUring;
  std::memcpy(out, &init, sizeof init);
  iovec patched[2] = {iov[0], {out, out_len}};
  ssize_t n = ::writev(fd, patched, 2);
  const long page = ::sysconf(_SC_PAGESIZE);
  size_t max_pages = (init.flags & FUSE_MAX_PAGES) ? init.max_pages : 32;
  size_t payload = std::max<size_t>({8192, init.max_write, max_pages * static_cast<size_t>(page)});
  im->decide(n >= 0, payload);
  if (n >= 0) {
    log_line("vprocd: io_uring: on, " + std::to_string(im->queues.size()) + " rings (one per CPU)");
  }
  return n;
}

}  // namespace

UringMode parse_uring_mode(const std::string& s) {
  if (s == "off") return UringMode::kOff;
  if (s == "auto") return UringMode::kAuto;
  if (s == "on") return UringMode::kOn;
  throw std::invalid_argument("io-uring must be off, auto or on, not '" + s + "'");
}

UringTransport::UringTransport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

UringTransport::~UringTransport() {
  stop();
  if (g_impl == impl_.get()) g_impl = nullptr;
}

namespace {

std::nullptr_t unavailable(UringMode mode, const std::string& why) {
  if (mode == UringMode::kOn) throw SysError("io_uring", "", why);
  log_line("vprocd: io_uring: off (" + why + "); serving through /dev/fuse");
  return nullptr;
}

}  // namespace

bool UringTransport::kernel_allows(UringMode mode) {
  if (mode == UringMode::kOff) return false;
  std::optional<std::string> knob;
  try {
    knob = read_file_at(AT_FDCWD, kEnableKnob);
  } catch (const std::exception&) {
  }
  if (!knob) {
    unavailable(mode,
                "this kernel has no FUSE over io_uring: Linux >= 6.14 with "
                "CONFIG_FUSE_IO_URING");
    return false;
  }
  if (!knob->empty() && (*knob)[0] == 'Y') return true;
  if (mode != UringMode::kOn) {
    unavailable(mode, std::string(kEnableKnob) + " is N");
    return false;
  }
  try {
    UniqueFd fd = open_at(AT_FDCWD, kEnableKnob, O_WRONLY);
    write_all(fd.get(), "Y\n", kEnableKnob);
  } catch (const std::exception& e) {
    unavailable(mode, std::string("cannot turn on ") + kEnableKnob + ": " + e.what());
    return false;
  }
  log_line(std::string("vprocd: io_uring: turned on ") + kEnableKnob);
  return true;
}

std::unique_ptr<UringTransport> UringTransport::prepare(fuse_session* se, UringMode mode) {
  auto im = std::make_unique<Impl>();
  im->se = se;
  const unsigned n = possible_cpus();
  if (n > 1024)
    return unavailable(mode, std::to_string(n) + " possible CPUs: a ring each is too many");
  try {
    for (unsigned qid = 0; qid < n; ++qid) {
      auto q = std::make_unique<Impl::Queue>();
      q->qid = qid;
      q->ring.setup(kEntriesPerQueue + 1);  // + the stop poll
      int efd = ::eventfd(0, EFD_CLOEXEC);
      if (efd < 0) throw SysError("eventfd", "", errno);
      q->stop_fd.reset(efd);
      im->queues.push_back(std::move(q));
    }
  } catch (const std::exception& e) {
    return unavailable(mode, e.what());
  }
  fuse_custom_io io{};
  io.read = hook_read;
  io.writev = hook_writev;
  g_impl = im.get();
  if (fuse_session_custom_io(se, &io, fuse_session_fd(se)) != 0) {
    g_impl = nullptr;
    return unavailable(mode, "libfuse refused the custom I/O");
  }
  return std::unique_ptr<UringTransport>(new UringTransport(std::move(im)));
}

void UringTransport::start() {
  for (auto& q : impl_->queues) {
    Impl::Queue* qp = q.get();
    qp->thread = std::thread([this, qp] { impl_->run_queue(*qp); });
  }
}

void UringTransport::stop() {
  bool granted = false;
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    if (impl_->stopping) return;
    impl_->stopping = true;
    granted = impl_->granted;
  }
  impl_->cv.notify_all();
  for (auto& q : impl_->queues) {
    uint64_t one = 1;
    (void)!::write(q->stop_fd.get(), &one, sizeof one);
  }
  for (auto& q : impl_->queues) {
    if (q->thread.joinable()) q->thread.join();
  }
  if (granted) {
    log_line("vprocd: io_uring: " + std::to_string(impl_->served.load()) +
             " requests served through the rings");
  }
}

void UringTransport::Impl::queue_cmd(Queue& q, Entry& e, size_t index) {
  io_uring_sqe* sqe = q.ring.next_sqe();  // never full: one SQE per entry at most
  sqe->opcode = IORING_OP_URING_CMD;
  sqe->fd = fuse_session_fd(se);
  sqe->user_data = index;
  sqe->cmd_op = e.last_cmd;
  RingCmdReq req{};
  req.qid = static_cast<uint16_t>(q.qid);
  if (e.last_cmd == kCmdRegister) {
    sqe->addr = reinterpret_cast<uint64_t>(e.iov);
    sqe->len = 2;
  } else {
    req.commit_id = e.commit_id;
  }
  std::memcpy(sqe->cmd, &req, sizeof req);
}

// Serves the request in e: its reply (or EIO) is in e's buffers afterwards.
void UringTransport::Impl::serve(Queue& q, Entry& e) {
  fuse_in_header in;
  std::memcpy(&in, e.header->in_out, sizeof in);
  const size_t payload = e.header->ent.payload_sz;
  e.commit_id = e.header->ent.commit_id;
  e.replied = false;
  if (in.len >= sizeof in + payload && in.len - sizeof in - payload <= kOpInSize &&
      payload <= payload_size) {
    const size_t op_len = in.len - sizeof in - payload;
    q.request.resize(in.len);
    std::memcpy(q.request.data(), &in, sizeof in);
    std::memcpy(q.request.data() + sizeof in, e.header->op_in, op_len);
    std::memcpy(q.request.data() + sizeof in + op_len, e.payload.get(), payload);
    fuse_buf buf{};
    buf.mem = q.request.data();
    buf.size = in.len;
    tl_entry = &e;
    fuse_session_process_buf(se, &buf);
    tl_entry = nullptr;
    served.fetch_add(1, std::memory_order_relaxed);
  }
  if (!e.replied) {  // malformed, or libfuse kept it: never leave the reader waiting
    fuse_out_header oh{};
    oh.len = sizeof oh;
    oh.error = -EIO;
    oh.unique = in.unique;
    std::memcpy(e.header->in_out, &oh, sizeof oh);
    e.header->ent.payload_sz = 0;
  }
}

void UringTransport::Impl::run_queue(Queue& q) {
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  CPU_SET(q.qid, &cpus);
  (void)::sched_setaffinity(0, sizeof cpus, &cpus);  // an offline or forbidden CPU: unpinned
  {
    std::unique_lock<std::mutex> lk(mu);
    cv.wait(lk, [&] { return decided || stopping; });
    if (!granted || stopping) return;
  }
  q.entries.resize(kEntriesPerQueue);
  for (size_t i = 0; i < q.entries.size(); ++i) {
    Entry& e = q.entries[i];
    e.header = std::make_unique<RingReqHeader>();
    // Not zeroed: pages nobody writes stay unallocated (the kernel copies
    // in only what a request carries).
    e.payload.reset(new char[payload_size]);
    e.iov[0] = {e.header.get(), sizeof(RingReqHeader)};
    e.iov[1] = {e.payload.get(), payload_size};
    queue_cmd(q, e, i);
  }
  io_uring_sqe* poll = q.ring.next_sqe();
  poll->opcode = IORING_OP_POLL_ADD;
  poll->fd = q.stop_fd.get();
  poll->poll32_events = POLLIN;
  poll->user_data = kStopTag;

  size_t live = q.entries.size();
  bool done = false;
  while (!done && live > 0) {
    int rc = q.ring.submit_and_wait();
    if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
      // The entries stay registered: this ring's CPU has no other server.
      // Keep trying, without flooding the log.
      if (!enter_failed_logged.exchange(true)) {
        log_line(std::string("vprocd: io_uring: ring ") + std::to_string(q.qid) +
                 ": io_uring_enter: " + std::strerror(-rc) + "; retrying");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    q.ring.for_each_completion([&](const io_uring_cqe& cqe) {
      if (cqe.user_data == kStopTag) {
        done = true;
        return false;
      }
      if (cqe.user_data >= q.entries.size()) return true;
      Entry& e = q.entries[cqe.user_data];
      if (cqe.res == 0) {
        serve(q, e);
        e.last_cmd = kCmdCommitAndFetch;
        queue_cmd(q, e, cqe.user_data);
      } else if (cqe.res == -EAGAIN || cqe.res == -EINTR) {
        queue_cmd(q, e, cqe.user_data);  // the same command again
      } else if (cqe.res != -ENOTCONN && e.last_cmd == kCmdCommitAndFetch) {
        // The kernel did not take a reply (it keeps the entry as ours): offer
        // the buffers again as a new entry, so this CPU's queue never runs dry.
        if (!commit_failed_logged.exchange(true)) {
          log_line(std::string("vprocd: io_uring: ring ") + std::to_string(q.qid) +
                   ": commit: " + std::strerror(-cqe.res) + "; registering the entry again");
        }
        e.last_cmd = kCmdRegister;
        queue_cmd(q, e, cqe.user_data);
      } else {
        // ENOTCONN: the connection ended (unmount). Anything else on
        // REGISTER: the kernel refused the ring; requests stay on /dev/fuse.
        --live;
        if (cqe.res != -ENOTCONN && !register_failed_logged.exchange(true)) {
          log_line(std::string("vprocd: io_uring: ring ") + std::to_string(q.qid) + ": " +
                   std::strerror(-cqe.res) + "; requests stay on /dev/fuse");
        }
      }
      return true;
    });
  }
}

}  // namespace vproc::fuse
