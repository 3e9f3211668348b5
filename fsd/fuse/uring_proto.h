// The FUSE-over-io_uring protocol (FUSE 7.42, Linux 6.14), without the ring
// or the threads: the layout of a ring entry (a header buffer and a payload
// buffer the kernel fills with a request and reads the reply from), the
// URING_CMD commands that register an entry and commit a reply, the INIT
// flag that asks for the transport, and the translation between a ring
// entry and the /dev/fuse layout libfuse reads and writes.
//
// Debian 12's kernel headers (6.1) predate the ABI, so it is spelled out
// here.
#pragma once

#include <linux/fuse.h>
#include <linux/io_uring.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace vproc::fuse {

constexpr std::uint32_t kFlag2OverIoUring = 1u << (41 - 32);  // FUSE_OVER_IO_URING in flags2
constexpr std::uint32_t kCmdRegister = 1;                     // FUSE_IO_URING_CMD_REGISTER
constexpr std::uint32_t kCmdCommitAndFetch = 2;               // FUSE_IO_URING_CMD_COMMIT_AND_FETCH
constexpr std::size_t kOpInSize = 128;                        // FUSE_URING_OP_IN_OUT_SZ

struct RingEntInOut {
  std::uint64_t flags;
  std::uint64_t commit_id;  // the request's unique id, to be named in the commit
  std::uint32_t payload_sz;
  std::uint32_t padding;
  std::uint64_t reserved;
};
struct RingReqHeader {
  char in_out[128];       // fuse_in_header of a request / fuse_out_header of a reply
  char op_in[kOpInSize];  // the request's fixed-size argument, if its opcode has one
  RingEntInOut ent;
};
struct RingCmdReq {  // in the command area of a 128-byte SQE
  std::uint64_t flags;
  std::uint64_t commit_id;
  std::uint16_t qid;
  std::uint8_t padding[6];
};
static_assert(sizeof(RingReqHeader) == 288);
static_assert(sizeof(RingCmdReq) == 24);

// One entry of a ring: the buffers registered with the kernel, and the
// command to send for it next.
struct RingEntry {
  std::unique_ptr<RingReqHeader> header;
  std::unique_ptr<char[]> payload;
  std::size_t payload_size = 0;
  iovec iov[2]{};
  std::uint32_t last_cmd = kCmdRegister;
  std::uint64_t commit_id = 0;
  bool replied = false;

  // Allocates the buffers. The payload is not zeroed: pages nobody writes
  // stay unallocated (the kernel copies in only what a request carries).
  void allocate(std::size_t payload_bytes);
};

// Fills a zeroed 128-byte SQE with the entry's next command (REGISTER names
// its buffers, COMMIT_AND_FETCH the request it answers) on queue `qid`.
void fill_cmd(io_uring_sqe* sqe, int fuse_fd, std::uint64_t user_data, const RingEntry& e,
              std::uint16_t qid);

// The request in the entry rebuilt in the /dev/fuse layout (header, fixed
// argument, payload) into `out`. False when the lengths do not add up.
bool rebuild_request(const RingEntry& e, std::vector<char>& out);

// A reply as libfuse writes it (a fuse_out_header, then the body in pieces)
// copied into the entry's buffers. Returns the bytes consumed, or -1 with
// errno EINVAL when iov does not start with a header. A body larger than the
// payload buffer becomes EIO.
ssize_t capture_reply(RingEntry& e, const iovec* iov, int count);

// Answers the entry's request with -err (nothing else written).
void fail_request(RingEntry& e, int err);

// INIT as read from /dev/fuse: its unique id and whether the kernel offers
// io_uring. nullopt for any other request.
struct InitRequest {
  std::uint64_t unique = 0;
  bool offers_uring = false;
};
std::optional<InitRequest> parse_init_request(const void* buf, std::size_t len);

// The header of a reply that can be INIT's (a header and a body that reaches
// flags2), else nullopt.
std::optional<fuse_out_header> init_reply_header(const iovec* iov, int count);

// libfuse's INIT reply body asking for io_uring too, and the payload size
// the kernel will use for ring entries.
struct InitReply {
  alignas(8) char body[sizeof(fuse_init_out)];
  std::size_t len = 0;
  std::size_t payload_size = 0;
};
InitReply ask_for_uring(const void* body, std::size_t len, std::size_t page_size);

}  // namespace vproc::fuse
