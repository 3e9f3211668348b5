#include "fsd/fuse/uring_proto.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace vproc::fuse {

void RingEntry::allocate(std::size_t payload_bytes) {
  header = std::make_unique<RingReqHeader>();
  payload.reset(new char[payload_bytes]);
  payload_size = payload_bytes;
  iov[0] = {header.get(), sizeof(RingReqHeader)};
  iov[1] = {payload.get(), payload_bytes};
}

void fill_cmd(io_uring_sqe* sqe, int fuse_fd, std::uint64_t user_data, const RingEntry& e,
              std::uint16_t qid) {
  sqe->opcode = IORING_OP_URING_CMD;
  sqe->fd = fuse_fd;
  sqe->user_data = user_data;
  sqe->cmd_op = e.last_cmd;
  RingCmdReq req{};
  req.qid = qid;
  if (e.last_cmd == kCmdRegister) {
    sqe->addr = reinterpret_cast<std::uint64_t>(e.iov);
    sqe->len = 2;
  } else {
    req.commit_id = e.commit_id;
  }
  std::memcpy(sqe->cmd, &req, sizeof req);
}

bool rebuild_request(const RingEntry& e, std::vector<char>& out) {
  fuse_in_header in;
  std::memcpy(&in, e.header->in_out, sizeof in);
  const std::size_t payload = e.header->ent.payload_sz;
  if (in.len < sizeof in + payload || in.len - sizeof in - payload > kOpInSize ||
      payload > e.payload_size) {
    return false;
  }
  const std::size_t op_len = in.len - sizeof in - payload;
  out.resize(in.len);
  std::memcpy(out.data(), &in, sizeof in);
  std::memcpy(out.data() + sizeof in, e.header->op_in, op_len);
  std::memcpy(out.data() + sizeof in + op_len, e.payload.get(), payload);
  return true;
}

ssize_t capture_reply(RingEntry& e, const iovec* iov, int count) {
  std::size_t total = 0;
  for (int i = 0; i < count; ++i) total += iov[i].iov_len;
  if (count < 1 || iov[0].iov_len != sizeof(fuse_out_header)) {
    errno = EINVAL;
    return -1;
  }
  fuse_out_header oh;
  std::memcpy(&oh, iov[0].iov_base, sizeof oh);
  std::size_t len = 0;
  for (int i = 1; i < count; ++i) {
    if (len + iov[i].iov_len > e.payload_size) {  // cannot happen within max_write
      oh.error = -EIO;
      len = 0;
      break;
    }
    std::memcpy(e.payload.get() + len, iov[i].iov_base, iov[i].iov_len);
    len += iov[i].iov_len;
  }
  oh.len = static_cast<std::uint32_t>(sizeof oh + len);
  std::memcpy(e.header->in_out, &oh, sizeof oh);
  e.header->ent.payload_sz = static_cast<std::uint32_t>(len);
  e.replied = true;
  return static_cast<ssize_t>(total);
}

void fail_request(RingEntry& e, int err) {
  fuse_in_header in;
  std::memcpy(&in, e.header->in_out, sizeof in);
  fuse_out_header oh{};
  oh.len = sizeof oh;
  oh.error = -err;
  oh.unique = in.unique;
  std::memcpy(e.header->in_out, &oh, sizeof oh);
  e.header->ent.payload_sz = 0;
}

std::optional<InitRequest> parse_init_request(const void* buf, std::size_t len) {
  fuse_in_header h;
  if (len < sizeof h) return std::nullopt;
  std::memcpy(&h, buf, sizeof h);
  if (h.opcode != FUSE_INIT) return std::nullopt;
  fuse_init_in in{};
  std::memcpy(&in, static_cast<const char*>(buf) + sizeof h, std::min(sizeof in, len - sizeof h));
  return InitRequest{h.unique, (in.flags & FUSE_INIT_EXT) && (in.flags2 & kFlag2OverIoUring)};
}

std::optional<fuse_out_header> init_reply_header(const iovec* iov, int count) {
  if (count != 2 || iov[0].iov_len != sizeof(fuse_out_header) ||
      iov[1].iov_len < offsetof(fuse_init_out, flags2) + sizeof(std::uint32_t)) {
    return std::nullopt;
  }
  fuse_out_header oh;
  std::memcpy(&oh, iov[0].iov_base, sizeof oh);
  return oh;
}

InitReply ask_for_uring(const void* body, std::size_t len, std::size_t page_size) {
  InitReply r{};
  r.len = std::min(sizeof r.body, len);
  std::memcpy(r.body, body, r.len);
  fuse_init_out init;
  std::memcpy(&init, r.body, sizeof init);
  init.flags |= FUSE_INIT_EXT;
  init.flags2 |= kFlag2OverIoUring;
  std::memcpy(r.body, &init, sizeof init);
  const std::size_t max_pages = (init.flags & FUSE_MAX_PAGES) ? init.max_pages : 32;
  r.payload_size = std::max<std::size_t>({8192, init.max_write, max_pages * page_size});
  return r;
}

}  // namespace vproc::fuse
