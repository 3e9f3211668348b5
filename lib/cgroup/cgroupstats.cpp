#include "lib/cgroup/cgroupstats.h"

#include <linux/cgroupstats.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/taskstats.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string_view>

#include "lib/base/io.h"
#include "lib/base/sys_error.h"

namespace vproc::cgroup {

namespace {

constexpr size_t kBufSize = 8192;

// Appends one netlink attribute (header, payload, padding to 4 bytes).
void put_attr(std::vector<uint8_t>& out, uint16_t type, const void* data, size_t len) {
  nlattr a{};
  a.nla_len = static_cast<uint16_t>(NLA_HDRLEN + len);
  a.nla_type = type;
  const auto* ap = reinterpret_cast<const uint8_t*>(&a);
  out.insert(out.end(), ap, ap + sizeof a);
  const auto* dp = static_cast<const uint8_t*>(data);
  out.insert(out.end(), dp, dp + len);
  out.resize(out.size() + (NLA_ALIGN(len) - len), 0);
}

// nlmsghdr + genlmsghdr, nlmsg_len filled in by finish().
std::vector<uint8_t> start(uint16_t type, uint8_t cmd, uint32_t seq) {
  std::vector<uint8_t> out(NLMSG_HDRLEN + GENL_HDRLEN, 0);
  nlmsghdr h{};
  h.nlmsg_type = type;
  h.nlmsg_flags = NLM_F_REQUEST;
  h.nlmsg_seq = seq;
  std::memcpy(out.data(), &h, sizeof h);
  genlmsghdr g{};
  g.cmd = cmd;
  g.version = 1;
  std::memcpy(out.data() + NLMSG_HDRLEN, &g, sizeof g);
  return out;
}

void finish(std::vector<uint8_t>& out) {
  auto len = static_cast<uint32_t>(out.size());
  std::memcpy(out.data() + offsetof(nlmsghdr, nlmsg_len), &len, sizeof len);
}

// Finds the attribute `attr` of the generic netlink message answering `seq`
// (type `type`, command `cmd`) in one datagram. Every length is checked
// against what is left of the buffer before anything is read.
NetlinkReply find_attr(const void* buf, size_t len, uint32_t seq, uint16_t type, uint8_t cmd,
                       uint16_t attr, std::string_view& payload) {
  using Status = NetlinkReply::Status;
  const auto* p = static_cast<const uint8_t*>(buf);
  size_t off = 0;
  while (len - off >= NLMSG_HDRLEN) {
    nlmsghdr h;
    std::memcpy(&h, p + off, sizeof h);
    if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > len - off) return {Status::kMalformed, 0};
    const uint8_t* body = p + off + NLMSG_HDRLEN;
    const size_t body_len = h.nlmsg_len - NLMSG_HDRLEN;
    off += std::min<size_t>(NLMSG_ALIGN(h.nlmsg_len), len - off);
    if (h.nlmsg_seq != seq || h.nlmsg_type == NLMSG_NOOP) continue;
    if (h.nlmsg_type == NLMSG_ERROR) {
      int err = 0;
      if (body_len < sizeof err) return {Status::kMalformed, 0};
      std::memcpy(&err, body, sizeof err);
      if (err > 0 || err < -4095) return {Status::kMalformed, 0};  // errnos are 1..4095
      // An acknowledgement without an answer: the kernel had nothing to say.
      return {Status::kKernelError, err == 0 ? ENODATA : -err};
    }
    if (h.nlmsg_type != type || body_len < GENL_HDRLEN) return {Status::kMalformed, 0};
    genlmsghdr g;
    std::memcpy(&g, body, sizeof g);
    if (g.cmd != cmd) return {Status::kMalformed, 0};
    size_t a = GENL_HDRLEN;
    while (body_len - a >= NLA_HDRLEN) {
      nlattr na;
      std::memcpy(&na, body + a, sizeof na);
      if (na.nla_len < NLA_HDRLEN || na.nla_len > body_len - a) return {Status::kMalformed, 0};
      if ((na.nla_type & NLA_TYPE_MASK) == attr) {
        payload = std::string_view(reinterpret_cast<const char*>(body + a + NLA_HDRLEN),
                                   na.nla_len - NLA_HDRLEN);
        return {Status::kOk, 0};
      }
      a += std::min<size_t>(NLA_ALIGN(na.nla_len), body_len - a);
    }
    return {Status::kMalformed, 0};  // the answer, without the attribute
  }
  if (off != len) return {Status::kMalformed, 0};  // a piece of a header
  return {Status::kOtherSeq, 0};
}

}  // namespace

NetlinkReply parse_family_id_reply(const void* buf, size_t len, uint32_t seq, uint16_t& family_id) {
  std::string_view v;
  NetlinkReply r =
      find_attr(buf, len, seq, GENL_ID_CTRL, CTRL_CMD_NEWFAMILY, CTRL_ATTR_FAMILY_ID, v);
  if (r.status != NetlinkReply::Status::kOk) return r;
  uint16_t id = 0;
  if (v.size() < sizeof id) return {NetlinkReply::Status::kMalformed, 0};
  std::memcpy(&id, v.data(), sizeof id);
  if (id == 0) return {NetlinkReply::Status::kMalformed, 0};
  family_id = id;
  return r;
}

NetlinkReply parse_cgroupstats_reply(const void* buf, size_t len, uint32_t seq, uint16_t family_id,
                                     TaskCounts& out) {
  std::string_view v;
  NetlinkReply r =
      find_attr(buf, len, seq, family_id, CGROUPSTATS_CMD_NEW, CGROUPSTATS_TYPE_CGROUP_STATS, v);
  if (r.status != NetlinkReply::Status::kOk) return r;
  cgroupstats s;
  // A later kernel may append fields; a shorter struct is not this one.
  if (v.size() < sizeof s) return {NetlinkReply::Status::kMalformed, 0};
  std::memcpy(&s, v.data(), sizeof s);
  out.sleeping = s.nr_sleeping;
  out.running = s.nr_running;
  out.stopped = s.nr_stopped;
  out.uninterruptible = s.nr_uninterruptible;
  out.io_wait = s.nr_io_wait;
  return r;
}

std::vector<uint8_t> family_id_request(uint32_t seq) {
  std::vector<uint8_t> out = start(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, seq);
  put_attr(out, CTRL_ATTR_FAMILY_NAME, TASKSTATS_GENL_NAME, sizeof TASKSTATS_GENL_NAME);
  finish(out);
  return out;
}

std::vector<uint8_t> cgroupstats_request(uint16_t family_id, uint32_t seq, int dirfd) {
  std::vector<uint8_t> out = start(family_id, CGROUPSTATS_CMD_GET, seq);
  auto fd = static_cast<uint32_t>(dirfd);
  put_attr(out, CGROUPSTATS_CMD_ATTR_FD, &fd, sizeof fd);
  finish(out);
  return out;
}

template <typename Parse>
int CgroupStatsSocket::exchange(const std::vector<uint8_t>& req, Parse parse) {
  ssize_t sent =
      retry_eintr([&] { return ::sendto(sock_.get(), req.data(), req.size(), 0, nullptr, 0); });
  if (sent < 0) return errno;
  // The answer is queued by now; older answers (after an error on our side)
  // are skipped by their sequence number.
  for (int i = 0; i < 64; ++i) {
    ssize_t n = retry_eintr([&] {
      return ::recvfrom(sock_.get(), buf_.data(), buf_.size(), MSG_DONTWAIT | MSG_TRUNC, nullptr,
                        nullptr);
    });
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? ENODATA : errno;
    if (static_cast<size_t>(n) > buf_.size()) return EMSGSIZE;
    NetlinkReply r = parse(buf_.data(), static_cast<size_t>(n));
    switch (r.status) {
      case NetlinkReply::Status::kOk:
        return 0;
      case NetlinkReply::Status::kKernelError:
        return r.error;
      case NetlinkReply::Status::kMalformed:
        return EBADMSG;
      case NetlinkReply::Status::kOtherSeq:
        break;
    }
  }
  return ENODATA;
}

CgroupStatsSocket::CgroupStatsSocket() : buf_(kBufSize) {
  sock_ = UniqueFd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC));
  if (!sock_) throw SysError("socket", "NETLINK_GENERIC", errno);
  // Connected to the kernel: datagrams from anyone else are refused.
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::connect(sock_.get(), reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) != 0) {
    throw SysError("connect", "NETLINK_GENERIC", errno);
  }
  std::lock_guard<std::mutex> lock(mu_);
  uint32_t seq = ++seq_;
  uint16_t id = 0;
  int err = exchange(family_id_request(seq),
                     [&](const void* b, size_t n) { return parse_family_id_reply(b, n, seq, id); });
  if (err != 0) throw SysError("genetlink CTRL_CMD_GETFAMILY", TASKSTATS_GENL_NAME, err);
  family_ = id;
}

int CgroupStatsSocket::query(int dirfd, TaskCounts& out) {
  std::lock_guard<std::mutex> lock(mu_);
  uint32_t seq = ++seq_;
  return exchange(cgroupstats_request(family_, seq, dirfd), [&](const void* b, size_t n) {
    return parse_cgroupstats_reply(b, n, seq, family_, out);
  });
}

}  // namespace vproc::cgroup
