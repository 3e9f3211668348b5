// fsd/fuse/uring_proto.h: the FUSE-over-io_uring layouts on literal
// requests and replies, with no ring and no kernel.
#include "fsd/fuse/uring_proto.h"

#include <doctest/doctest.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace vf = vproc::fuse;

namespace {

// A ring entry holding a request as the kernel lays it out: the in header,
// `op` in the fixed-argument area, `payload` in the payload buffer.
vf::RingEntry entry_with(const fuse_in_header& in, const std::string& op,
                         const std::string& payload, std::size_t payload_cap = 64) {
  vf::RingEntry e;
  e.allocate(payload_cap);
  std::memcpy(e.header->in_out, &in, sizeof in);
  std::memcpy(e.header->op_in, op.data(), op.size());
  std::memcpy(e.payload.get(), payload.data(), payload.size());
  e.header->ent.payload_sz = static_cast<std::uint32_t>(payload.size());
  return e;
}

fuse_in_header in_header(std::uint32_t len, std::uint64_t unique) {
  fuse_in_header in{};
  in.len = len;
  in.opcode = FUSE_WRITE;
  in.unique = unique;
  return in;
}

fuse_out_header out_header_of(const vf::RingEntry& e) {
  fuse_out_header oh;
  std::memcpy(&oh, e.header->in_out, sizeof oh);
  return oh;
}

std::vector<char> init_request(std::uint32_t flags, std::uint32_t flags2, std::size_t in_bytes) {
  fuse_in_header h{};
  h.opcode = FUSE_INIT;
  h.unique = 99;
  fuse_init_in in{};
  in.major = 7;
  in.minor = 42;
  in.flags = flags;
  in.flags2 = flags2;
  std::vector<char> buf(sizeof h + in_bytes);
  std::memcpy(buf.data(), &h, sizeof h);
  std::memcpy(buf.data() + sizeof h, &in, in_bytes);
  return buf;
}

}  // namespace

TEST_CASE("uring proto: a request is rebuilt as header, fixed argument, payload") {
  const std::string op(24, 'o');
  const std::string payload = "hello, world";
  auto e = entry_with(in_header(sizeof(fuse_in_header) + 24 + 12, 5), op, payload);
  std::vector<char> out;
  REQUIRE(vf::rebuild_request(e, out));
  REQUIRE(out.size() == sizeof(fuse_in_header) + 36);
  fuse_in_header in;
  std::memcpy(&in, out.data(), sizeof in);
  CHECK(in.unique == 5);
  CHECK(in.opcode == FUSE_WRITE);
  CHECK(std::string(out.data() + sizeof in, 24) == op);
  CHECK(std::string(out.data() + sizeof in + 24, 12) == payload);
}

TEST_CASE("uring proto: a request whose lengths do not add up is refused") {
  std::vector<char> out;
  const std::size_t h = sizeof(fuse_in_header);
  // Shorter than header + payload.
  auto short_len = entry_with(in_header(static_cast<std::uint32_t>(h + 4), 1), "", "12345678");
  CHECK_FALSE(vf::rebuild_request(short_len, out));
  // A fixed argument larger than its area.
  auto big_op = entry_with(in_header(static_cast<std::uint32_t>(h + vf::kOpInSize + 1), 2), "", "");
  CHECK_FALSE(vf::rebuild_request(big_op, out));
  // The largest fixed argument fits.
  auto max_op = entry_with(in_header(static_cast<std::uint32_t>(h + vf::kOpInSize), 3), "", "");
  CHECK(vf::rebuild_request(max_op, out));
  // A payload larger than the entry's buffer.
  auto big_payload = entry_with(in_header(static_cast<std::uint32_t>(h + 100), 4), "", "");
  big_payload.header->ent.payload_sz = 100;
  CHECK_FALSE(vf::rebuild_request(big_payload, out));
}

TEST_CASE("uring proto: a reply in pieces lands in the entry's buffers") {
  auto e = entry_with(in_header(sizeof(fuse_in_header), 7), "", "");
  fuse_out_header oh{};
  oh.unique = 7;
  oh.len = 999;  // libfuse's own count; the entry gets the real one
  char a[] = "abc";
  char b[] = "defgh";
  iovec iov[3] = {{&oh, sizeof oh}, {a, 3}, {b, 5}};
  CHECK(vf::capture_reply(e, iov, 3) == static_cast<ssize_t>(sizeof oh + 8));
  CHECK(e.replied);
  const fuse_out_header got = out_header_of(e);
  CHECK(got.unique == 7);
  CHECK(got.error == 0);
  CHECK(got.len == sizeof oh + 8);
  CHECK(e.header->ent.payload_sz == 8);
  CHECK(std::string(e.payload.get(), 8) == "abcdefgh");
}

TEST_CASE("uring proto: a reply larger than the payload buffer becomes EIO") {
  auto e = entry_with(in_header(sizeof(fuse_in_header), 8), "", "", 4);
  fuse_out_header oh{};
  oh.unique = 8;
  char a[] = "abcdef";
  iovec iov[2] = {{&oh, sizeof oh}, {a, 6}};
  CHECK(vf::capture_reply(e, iov, 2) == static_cast<ssize_t>(sizeof oh + 6));
  const fuse_out_header got = out_header_of(e);
  CHECK(got.error == -EIO);
  CHECK(got.len == sizeof oh);
  CHECK(e.header->ent.payload_sz == 0);
}

TEST_CASE("uring proto: a reply that does not start with a header is EINVAL") {
  auto e = entry_with(in_header(sizeof(fuse_in_header), 9), "", "");
  char a[] = "abc";
  iovec iov[1] = {{a, 3}};
  errno = 0;
  CHECK(vf::capture_reply(e, iov, 1) == -1);
  CHECK(errno == EINVAL);
  CHECK_FALSE(e.replied);
}

TEST_CASE("uring proto: a failed request answers its own unique id") {
  auto e = entry_with(in_header(sizeof(fuse_in_header) + 3, 1234), "", "xyz");
  vf::fail_request(e, EIO);
  const fuse_out_header got = out_header_of(e);
  CHECK(got.unique == 1234);
  CHECK(got.error == -EIO);
  CHECK(got.len == sizeof got);
  CHECK(e.header->ent.payload_sz == 0);
}

TEST_CASE("uring proto: REGISTER names the buffers, COMMIT_AND_FETCH the request") {
  vf::RingEntry e;
  e.allocate(16);
  alignas(io_uring_sqe) unsigned char sqe_mem[2 * sizeof(io_uring_sqe)]{};
  auto* sqe = reinterpret_cast<io_uring_sqe*>(sqe_mem);
  vf::fill_cmd(sqe, 42, 3, e, 5);
  CHECK(sqe->opcode == IORING_OP_URING_CMD);
  CHECK(sqe->fd == 42);
  CHECK(sqe->user_data == 3);
  CHECK(sqe->cmd_op == vf::kCmdRegister);
  CHECK(sqe->addr == reinterpret_cast<std::uint64_t>(e.iov));
  CHECK(sqe->len == 2);
  vf::RingCmdReq req;
  std::memcpy(&req, sqe->cmd, sizeof req);
  CHECK(req.qid == 5);
  CHECK(req.commit_id == 0);

  std::memset(sqe_mem, 0, sizeof sqe_mem);
  e.last_cmd = vf::kCmdCommitAndFetch;
  e.commit_id = 0xabcdef;
  vf::fill_cmd(sqe, 42, 3, e, 5);
  CHECK(sqe->cmd_op == vf::kCmdCommitAndFetch);
  CHECK(sqe->addr == 0);
  CHECK(sqe->len == 0);
  std::memcpy(&req, sqe->cmd, sizeof req);
  CHECK(req.qid == 5);
  CHECK(req.commit_id == 0xabcdef);
}

TEST_CASE("uring proto: INIT offers io_uring only with FUSE_INIT_EXT and the flags2 bit") {
  auto both = init_request(FUSE_INIT_EXT, vf::kFlag2OverIoUring, sizeof(fuse_init_in));
  auto r = vf::parse_init_request(both.data(), both.size());
  REQUIRE(r.has_value());
  CHECK(r->unique == 99);
  CHECK(r->offers_uring);

  auto no_ext = init_request(0, vf::kFlag2OverIoUring, sizeof(fuse_init_in));
  r = vf::parse_init_request(no_ext.data(), no_ext.size());
  REQUIRE(r.has_value());
  CHECK_FALSE(r->offers_uring);

  auto no_bit = init_request(FUSE_INIT_EXT, 0, sizeof(fuse_init_in));
  CHECK_FALSE(vf::parse_init_request(no_bit.data(), no_bit.size())->offers_uring);

  // An old kernel's shorter INIT (no flags2): not offered, nothing read past it.
  auto old = init_request(FUSE_INIT_EXT, vf::kFlag2OverIoUring, offsetof(fuse_init_in, flags2));
  r = vf::parse_init_request(old.data(), old.size());
  REQUIRE(r.has_value());
  CHECK_FALSE(r->offers_uring);
}

TEST_CASE("uring proto: requests other than INIT, and short reads, are not INIT") {
  auto buf = init_request(FUSE_INIT_EXT, vf::kFlag2OverIoUring, sizeof(fuse_init_in));
  CHECK_FALSE(vf::parse_init_request(buf.data(), sizeof(fuse_in_header) - 1).has_value());
  fuse_in_header h{};
  h.opcode = FUSE_LOOKUP;
  std::memcpy(buf.data(), &h, sizeof h);
  CHECK_FALSE(vf::parse_init_request(buf.data(), buf.size()).has_value());
}

TEST_CASE("uring proto: the INIT reply asks for io_uring and keeps everything else") {
  fuse_init_out in{};
  in.major = 7;
  in.minor = 38;
  in.flags = FUSE_MAX_PAGES | FUSE_ASYNC_READ;
  in.max_write = 128 * 1024;
  in.max_pages = 64;
  const vf::InitReply r = vf::ask_for_uring(&in, sizeof in, 4096);
  REQUIRE(r.len == sizeof in);
  fuse_init_out out;
  std::memcpy(&out, r.body, sizeof out);
  CHECK(out.major == 7);
  CHECK(out.minor == 38);
  CHECK(out.flags == (FUSE_MAX_PAGES | FUSE_ASYNC_READ | FUSE_INIT_EXT));
  CHECK(out.flags2 == vf::kFlag2OverIoUring);
  CHECK(out.max_write == 128 * 1024);
  CHECK(r.payload_size == 64 * 4096);  // max_pages pages beat max_write

  in.flags = 0;  // without FUSE_MAX_PAGES the kernel's default is 32 pages
  in.max_write = 4096;
  CHECK(vf::ask_for_uring(&in, sizeof in, 4096).payload_size == 32 * 4096);
  in.max_write = 1 << 20;
  CHECK(vf::ask_for_uring(&in, sizeof in, 4096).payload_size == 1 << 20);
  CHECK(vf::ask_for_uring(&in, sizeof in, 16).payload_size == 1 << 20);
  in.max_write = 0;
  CHECK(vf::ask_for_uring(&in, sizeof in, 16).payload_size == 8192);  // the floor
}

TEST_CASE("uring proto: only a header and a body reaching flags2 can be INIT's reply") {
  fuse_out_header oh{};
  oh.unique = 77;
  fuse_init_out body{};
  iovec ok[2] = {{&oh, sizeof oh}, {&body, offsetof(fuse_init_out, flags2) + 4}};
  auto h = vf::init_reply_header(ok, 2);
  REQUIRE(h.has_value());
  CHECK(h->unique == 77);
  iovec short_body[2] = {{&oh, sizeof oh}, {&body, offsetof(fuse_init_out, flags2)}};
  CHECK_FALSE(vf::init_reply_header(short_body, 2).has_value());
  iovec one[1] = {{&oh, sizeof oh}};
  CHECK_FALSE(vf::init_reply_header(one, 1).has_value());
  iovec bad_header[2] = {{&oh, sizeof oh - 1}, {&body, sizeof body}};
  CHECK_FALSE(vf::init_reply_header(bad_header, 2).has_value());
}
