// The transport's threads and its glue with libfuse: one thread per possible
// CPU serves that CPU's ring (fsd/fuse/uring_ring.h) in the protocol of
// fsd/fuse/uring_proto.h, and libfuse's custom I/O hooks watch INIT on
// /dev/fuse and route the replies of ring requests back to their entries.
#include "fsd/fuse/uring.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "fsd/fuse/uring_proto.h"
#include "fsd/fuse/uring_ring.h"
#include "lib/base/io.h"
#include "lib/base/log.h"
#include "lib/base/sys_error.h"
#include "lib/base/unique_fd.h"
#include "lib/core/parse.h"

namespace vproc::fuse {
namespace {

constexpr unsigned kEntriesPerQueue = 4;
constexpr std::uint64_t kStopTag = ~std::uint64_t{0};
constexpr const char* kEnableKnob = "/sys/module/fuse/parameters/enable_uring";

// The ring entry whose request this thread is processing: libfuse's reply
// (through the writev hook) goes into it instead of /dev/fuse.
thread_local RingEntry* tl_entry = nullptr;

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
    std::vector<RingEntry> entries;
    std::vector<char> request;  // a request rebuilt in the /dev/fuse layout
    std::thread thread;
  };

  fuse_session* se = nullptr;
  std::vector<std::unique_ptr<Queue>> queues;

  // INIT, as seen by the hooks (the kernel sends nothing else before INIT's reply).
  std::atomic<bool> init_seen{false};
  std::atomic<std::uint64_t> init_unique{0};
  std::atomic<bool> offered{false};
  std::atomic<bool> init_replied{false};

  std::mutex mu;
  std::condition_variable cv;
  bool decided = false;  // the INIT reply went out (or the session ended)
  bool granted = false;  // ... and asked for io_uring
  bool stopping = false;
  size_t payload_size = 0;

  std::atomic<std::uint64_t> served{0};
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

  bool wait_for_grant();
  void run_queue(Queue& q);
  void register_entries(Queue& q);
  void wait_once(Queue& q);
  bool complete(Queue& q, const io_uring_cqe& cqe, size_t& live);
  void serve(Queue& q, RingEntry& e);
  void queue_cmd(Queue& q, RingEntry& e, size_t index);
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
  const std::optional<InitRequest> init = parse_init_request(buf, static_cast<size_t>(n));
  if (!init) return n;
  im->init_unique.store(init->unique);
  im->offered.store(init->offers_uring);
  im->init_seen.store(true, std::memory_order_release);
  if (!im->offered.load()) {
    log_line("vprocd: io_uring: the kernel did not offer it in INIT; serving through /dev/fuse");
    im->decide(false, 0);
  }
  return n;
}

// libfuse's INIT reply: ask for io_uring too.
ssize_t write_init_reply(UringTransport::Impl* im, int fd, const iovec* iov) {
  InitReply r =
      ask_for_uring(iov[1].iov_base, iov[1].iov_len, static_cast<size_t>(::sysconf(_SC_PAGESIZE)));
  iovec patched[2] = {iov[0], {r.body, r.len}};
  const ssize_t n = ::writev(fd, patched, 2);
  im->decide(n >= 0, r.payload_size);
  if (n >= 0) {
    log_line("vprocd: io_uring: on, " + std::to_string(im->queues.size()) + " rings (one per CPU)");
  }
  return n;
}

ssize_t hook_writev(int fd, struct iovec* iov, int count, void*) {
  UringTransport::Impl* im = g_impl;
  if (im == nullptr) return ::writev(fd, iov, count);
  if (RingEntry* e = tl_entry) return capture_reply(*e, iov, count);
  if (!im->offered.load(std::memory_order_relaxed) ||
      im->init_replied.load(std::memory_order_relaxed)) {
    return ::writev(fd, iov, count);
  }
  const std::optional<fuse_out_header> oh = init_reply_header(iov, count);
  if (!oh || oh->unique != im->init_unique.load() || im->init_replied.exchange(true)) {
    return ::writev(fd, iov, count);
  }
  if (oh->error != 0) {
    ssize_t n = ::writev(fd, iov, count);
    im->decide(false, 0);
    return n;
  }
  return write_init_reply(im, fd, iov);
}

std::nullptr_t unavailable(UringMode mode, const std::string& why) {
  if (mode == UringMode::kOn) throw SysError("io_uring", "", why);
  log_line("vprocd: io_uring: off (" + why + "); serving through /dev/fuse");
  return nullptr;
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

bool serving_ring_request() { return tl_entry != nullptr; }

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

void UringTransport::Impl::queue_cmd(Queue& q, RingEntry& e, size_t index) {
  io_uring_sqe* sqe = q.ring.next_sqe();  // never full: one SQE per entry at most
  fill_cmd(sqe, fuse_session_fd(se), index, e, static_cast<std::uint16_t>(q.qid));
}

// Serves the request in e: its reply (or EIO) is in e's buffers afterwards.
void UringTransport::Impl::serve(Queue& q, RingEntry& e) {
  e.commit_id = e.header->ent.commit_id;
  e.replied = false;
  if (rebuild_request(e, q.request)) {
    fuse_buf buf{};
    buf.mem = q.request.data();
    buf.size = q.request.size();
    tl_entry = &e;
    fuse_session_process_buf(se, &buf);
    tl_entry = nullptr;
    served.fetch_add(1, std::memory_order_relaxed);
  }
  // Malformed, or libfuse kept it: never leave the reader waiting.
  if (!e.replied) fail_request(e, EIO);
}

// Waits until INIT's reply went out; whether this thread has a ring to serve.
bool UringTransport::Impl::wait_for_grant() {
  std::unique_lock<std::mutex> lk(mu);
  cv.wait(lk, [&] { return decided || stopping; });
  return granted && !stopping;
}

// Registers the queue's entries and the poll of its stop eventfd.
void UringTransport::Impl::register_entries(Queue& q) {
  q.entries.resize(kEntriesPerQueue);
  for (size_t i = 0; i < q.entries.size(); ++i) {
    q.entries[i].allocate(payload_size);
    queue_cmd(q, q.entries[i], i);
  }
  io_uring_sqe* poll = q.ring.next_sqe();
  poll->opcode = IORING_OP_POLL_ADD;
  poll->fd = q.stop_fd.get();
  poll->poll32_events = POLLIN;
  poll->user_data = kStopTag;
}

void UringTransport::Impl::run_queue(Queue& q) {
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  CPU_SET(q.qid, &cpus);
  (void)::sched_setaffinity(0, sizeof cpus, &cpus);  // an offline or forbidden CPU: unpinned
  if (!wait_for_grant()) return;
  register_entries(q);
  size_t live = q.entries.size();
  bool done = false;
  while (!done && live > 0) {
    wait_once(q);
    q.ring.for_each_completion([&](const io_uring_cqe& cqe) {
      if (cqe.user_data == kStopTag) {
        done = true;
        return false;
      }
      return complete(q, cqe, live);
    });
  }
}

// Submits what is queued and waits for a completion.
void UringTransport::Impl::wait_once(Queue& q) {
  const int rc = q.ring.submit_and_wait();
  if (rc >= 0 || rc == -EINTR || rc == -EAGAIN || rc == -EBUSY) return;
  // The entries stay registered: this ring's CPU has no other server. Keep
  // trying, without flooding the log.
  if (!enter_failed_logged.exchange(true)) {
    log_line(std::string("vprocd: io_uring: ring ") + std::to_string(q.qid) +
             ": io_uring_enter: " + std::strerror(-rc) + "; retrying");
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

// One entry's completion: serve its request and commit, or retry, or give
// the entry up (--live). Returns true to go on with the next completion.
bool UringTransport::Impl::complete(Queue& q, const io_uring_cqe& cqe, size_t& live) {
  if (cqe.user_data >= q.entries.size()) return true;
  RingEntry& e = q.entries[cqe.user_data];
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
    // ENOTCONN: the connection ended (unmount). Anything else on REGISTER:
    // the kernel refused the ring; requests stay on /dev/fuse.
    --live;
    if (cqe.res != -ENOTCONN && !register_failed_logged.exchange(true)) {
      log_line(std::string("vprocd: io_uring: ring ") + std::to_string(q.qid) + ": " +
               std::strerror(-cqe.res) + "; requests stay on /dev/fuse");
    }
  }
  return true;
}

}  // namespace vproc::fuse
