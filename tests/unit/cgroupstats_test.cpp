// Tier 1: the taskstats generic netlink requests and the parsing of replies
// built by hand (as the kernel lays them out), including errors, late answers
// and every truncation; then, where the kernel has the TASKSTATS family, one
// live query (no root needed).
#include "lib/cgroup/cgroupstats.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <linux/cgroupstats.h>
#include <linux/genetlink.h>
#include <linux/magic.h>
#include <linux/netlink.h>
#include <linux/taskstats.h>
#include <sys/vfs.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "lib/base/io.h"
#include "lib/core/parse.h"

using namespace vproc;
using namespace vproc::cgroup;
using Status = NetlinkReply::Status;

namespace {

using Bytes = std::vector<uint8_t>;

// resize + memcpy: GCC 12 misreads vector::insert of a few bytes (-Wstringop-overflow).
void append_raw(Bytes& b, const void* data, size_t len) {
  size_t at = b.size();
  b.resize(at + len);
  if (len != 0) std::memcpy(b.data() + at, data, len);
}
template <typename T>
void append(Bytes& b, const T& v) {
  append_raw(b, &v, sizeof v);
}

void attr(Bytes& b, uint16_t type, const void* data, size_t len) {
  nlattr a{static_cast<uint16_t>(NLA_HDRLEN + len), type};
  append(b, a);
  append_raw(b, data, len);
  b.resize(b.size() + NLA_ALIGN(len) - len, 0);
}

// One netlink message: header, then body (a genlmsghdr and attributes, or an nlmsgerr).
Bytes message(uint16_t type, uint32_t seq, const Bytes& body) {
  Bytes b;
  nlmsghdr h{};
  h.nlmsg_len = static_cast<uint32_t>(NLMSG_HDRLEN + body.size());
  h.nlmsg_type = type;
  h.nlmsg_seq = seq;
  h.nlmsg_pid = 0;
  append(b, h);
  append_raw(b, body.data(), body.size());
  b.resize(NLMSG_ALIGN(b.size()), 0);
  return b;
}

Bytes genl(uint8_t cmd) {
  Bytes b;
  genlmsghdr g{cmd, 2, 0};
  append(b, g);
  return b;
}

Bytes family_reply(uint32_t seq, uint16_t id) {
  Bytes body = genl(CTRL_CMD_NEWFAMILY);
  attr(body, CTRL_ATTR_FAMILY_NAME, "TASKSTATS", 10);  // 10 bytes: padded to 12
  attr(body, CTRL_ATTR_FAMILY_ID, &id, sizeof id);     // 2 bytes: padded to 4
  uint32_t version = 1;
  attr(body, CTRL_ATTR_VERSION, &version, sizeof version);
  return message(GENL_ID_CTRL, seq, body);
}

Bytes stats_reply(uint16_t family, uint32_t seq, const cgroupstats& s) {
  Bytes body = genl(CGROUPSTATS_CMD_NEW);
  attr(body, CGROUPSTATS_TYPE_CGROUP_STATS, &s, sizeof s);
  return message(family, seq, body);
}

Bytes error_reply(uint32_t seq, int error) {
  Bytes body;
  nlmsgerr e{};
  e.error = error;
  e.msg.nlmsg_seq = seq;
  append(body, e);
  return message(NLMSG_ERROR, seq, body);
}

Bytes concat(Bytes a, const Bytes& b) {
  append_raw(a, b.data(), b.size());
  return a;
}

// Parsed from a heap copy of exactly n bytes, so that ASan sees any read past it.
NetlinkReply stats_of(const Bytes& b, size_t n, uint32_t seq, uint16_t family, TaskCounts& out) {
  std::vector<uint8_t> copy(b.begin(), b.begin() + static_cast<long>(n));
  return parse_cgroupstats_reply(copy.data(), n, seq, family, out);
}
NetlinkReply family_of(const Bytes& b, size_t n, uint32_t seq, uint16_t& id) {
  std::vector<uint8_t> copy(b.begin(), b.begin() + static_cast<long>(n));
  return parse_family_id_reply(copy.data(), n, seq, id);
}

constexpr cgroupstats kStats = {7, 3, 1, 2,
                                4};  // sleeping, running, stopped, uninterruptible, io_wait

}  // namespace

TEST_CASE("genetlink requests: CTRL_CMD_GETFAMILY for TASKSTATS, CGROUPSTATS_CMD_GET with the fd") {
  Bytes f = family_id_request(5);
  REQUIRE(f.size() == NLMSG_HDRLEN + GENL_HDRLEN + NLA_HDRLEN + NLA_ALIGN(sizeof "TASKSTATS"));
  nlmsghdr h;
  std::memcpy(&h, f.data(), sizeof h);
  CHECK(h.nlmsg_len == f.size());
  CHECK(h.nlmsg_type == GENL_ID_CTRL);
  CHECK(h.nlmsg_flags == NLM_F_REQUEST);  // no NLM_F_ACK: one answer, one recv
  CHECK(h.nlmsg_seq == 5);
  CHECK(f[NLMSG_HDRLEN] == CTRL_CMD_GETFAMILY);
  nlattr a;
  std::memcpy(&a, f.data() + NLMSG_HDRLEN + GENL_HDRLEN, sizeof a);
  CHECK(a.nla_type == CTRL_ATTR_FAMILY_NAME);
  CHECK(a.nla_len == NLA_HDRLEN + 10);
  CHECK(std::string(reinterpret_cast<const char*>(f.data()) + NLMSG_HDRLEN + GENL_HDRLEN +
                    NLA_HDRLEN) == "TASKSTATS");

  Bytes q = cgroupstats_request(0x1c, 9, 42);
  REQUIRE(q.size() == NLMSG_HDRLEN + GENL_HDRLEN + NLA_HDRLEN + 4);
  std::memcpy(&h, q.data(), sizeof h);
  CHECK(h.nlmsg_len == q.size());
  CHECK(h.nlmsg_type == 0x1c);
  CHECK(h.nlmsg_seq == 9);
  CHECK(q[NLMSG_HDRLEN] == CGROUPSTATS_CMD_GET);
  std::memcpy(&a, q.data() + NLMSG_HDRLEN + GENL_HDRLEN, sizeof a);
  CHECK(a.nla_type == CGROUPSTATS_CMD_ATTR_FD);
  CHECK(a.nla_len == NLA_HDRLEN + 4);
  uint32_t fd = 0;
  std::memcpy(&fd, q.data() + q.size() - 4, 4);
  CHECK(fd == 42);
}

TEST_CASE("genetlink: the family id is found among the CTRL_CMD_NEWFAMILY attributes") {
  Bytes r = family_reply(3, 0x17);
  uint16_t id = 0;
  CHECK(family_of(r, r.size(), 3, id).status == Status::kOk);
  CHECK(id == 0x17);
  // An answer to another request is not this one's.
  id = 0;
  CHECK(family_of(r, r.size(), 4, id).status == Status::kOtherSeq);
  CHECK(id == 0);
  // No TASKSTATS family: the kernel says ENOENT.
  Bytes e = error_reply(3, -ENOENT);
  NetlinkReply er = family_of(e, e.size(), 3, id);
  CHECK(er.status == Status::kKernelError);
  CHECK(er.error == ENOENT);
  // Without CTRL_ATTR_FAMILY_ID, or with a 1-byte one, or id 0.
  Bytes body = genl(CTRL_CMD_NEWFAMILY);
  attr(body, CTRL_ATTR_FAMILY_NAME, "TASKSTATS", 10);
  Bytes noid = message(GENL_ID_CTRL, 3, body);
  CHECK(family_of(noid, noid.size(), 3, id).status == Status::kMalformed);
  Bytes shortid_body = genl(CTRL_CMD_NEWFAMILY);
  uint8_t one = 7;
  attr(shortid_body, CTRL_ATTR_FAMILY_ID, &one, 1);
  Bytes shortid = message(GENL_ID_CTRL, 3, shortid_body);
  CHECK(family_of(shortid, shortid.size(), 3, id).status == Status::kMalformed);
  Bytes zero = family_reply(3, 0);
  CHECK(family_of(zero, zero.size(), 3, id).status == Status::kMalformed);
}

TEST_CASE("genetlink: a cgroupstats reply gives the five counts") {
  Bytes r = stats_reply(0x1c, 8, kStats);
  TaskCounts c;
  REQUIRE(stats_of(r, r.size(), 8, 0x1c, c).status == Status::kOk);
  CHECK(c.sleeping == 7);
  CHECK(c.running == 3);
  CHECK(c.stopped == 1);
  CHECK(c.uninterruptible == 2);
  CHECK(c.io_wait == 4);
  // A late answer to an older request first, then this one's, in one datagram.
  cgroupstats old{};
  old.nr_running = 99;
  Bytes two = concat(stats_reply(0x1c, 7, old), r);
  TaskCounts c2;
  CHECK(stats_of(two, two.size(), 8, 0x1c, c2).status == Status::kOk);
  CHECK(c2.running == 3);
  CHECK(stats_of(r, r.size(), 9, 0x1c, c2).status == Status::kOtherSeq);
  // A longer struct (a later kernel's) is read; a shorter one is not.
  Bytes longer_body = genl(CGROUPSTATS_CMD_NEW);
  uint8_t big[sizeof kStats + 8] = {};
  std::memcpy(big, &kStats, sizeof kStats);
  attr(longer_body, CGROUPSTATS_TYPE_CGROUP_STATS, big, sizeof big);
  Bytes longer = message(0x1c, 8, longer_body);
  TaskCounts c3;
  CHECK(stats_of(longer, longer.size(), 8, 0x1c, c3).status == Status::kOk);
  CHECK(c3.io_wait == 4);
  Bytes shorter_body = genl(CGROUPSTATS_CMD_NEW);
  attr(shorter_body, CGROUPSTATS_TYPE_CGROUP_STATS, &kStats, sizeof kStats - 8);
  Bytes shorter = message(0x1c, 8, shorter_body);
  CHECK(stats_of(shorter, shorter.size(), 8, 0x1c, c3).status == Status::kMalformed);
}

TEST_CASE("genetlink: NLMSG_ERROR replies carry the kernel's errno") {
  TaskCounts c;
  Bytes einval = error_reply(8, -EINVAL);  // v2 or a copied tree
  NetlinkReply r = stats_of(einval, einval.size(), 8, 0x1c, c);
  CHECK(r.status == Status::kKernelError);
  CHECK(r.error == EINVAL);
  Bytes enoent = error_reply(8, -ENOENT);  // a removed cgroup
  r = stats_of(enoent, enoent.size(), 8, 0x1c, c);
  CHECK(r.status == Status::kKernelError);
  CHECK(r.error == ENOENT);
  Bytes ack = error_reply(8, 0);  // an acknowledgement, no answer
  r = stats_of(ack, ack.size(), 8, 0x1c, c);
  CHECK(r.status == Status::kKernelError);
  CHECK(r.error == ENODATA);
  Bytes positive = error_reply(8, 5);
  CHECK(stats_of(positive, positive.size(), 8, 0x1c, c).status == Status::kMalformed);
  Bytes huge = error_reply(8, INT_MIN);  // found by tests/fuzz/genetlink: -INT_MIN overflows
  CHECK(stats_of(huge, huge.size(), 8, 0x1c, c).status == Status::kMalformed);
  // An error body too short for its int.
  Bytes tiny = message(NLMSG_ERROR, 8, Bytes{0, 0});
  CHECK(stats_of(tiny, NLMSG_HDRLEN + 2, 8, 0x1c, c).status == Status::kMalformed);
}

TEST_CASE("genetlink: malformed replies are errors, never reads past the buffer") {
  TaskCounts c;
  // Wrong family, wrong command, missing attribute.
  Bytes r = stats_reply(0x1c, 8, kStats);
  CHECK(stats_of(r, r.size(), 8, 0x1d, c).status == Status::kMalformed);
  Bytes wrong_cmd = message(0x1c, 8, concat(genl(CGROUPSTATS_CMD_GET), Bytes(48, 0)));
  CHECK(stats_of(wrong_cmd, wrong_cmd.size(), 8, 0x1c, c).status == Status::kMalformed);
  Bytes no_attr = message(0x1c, 8, genl(CGROUPSTATS_CMD_NEW));
  CHECK(stats_of(no_attr, no_attr.size(), 8, 0x1c, c).status == Status::kMalformed);
  // nlmsg_len below the header (a walk that would never advance), or past the end.
  Bytes bad = r;
  uint32_t len = 4;
  std::memcpy(bad.data(), &len, 4);
  CHECK(stats_of(bad, bad.size(), 8, 0x1c, c).status == Status::kMalformed);
  len = static_cast<uint32_t>(r.size() + 4);
  std::memcpy(bad.data(), &len, 4);
  CHECK(stats_of(bad, bad.size(), 8, 0x1c, c).status == Status::kMalformed);
  // nla_len 0 (would loop), and past the message.
  for (uint16_t nla_len : {uint16_t{0}, uint16_t{2}, uint16_t{200}}) {
    Bytes a = r;
    std::memcpy(a.data() + NLMSG_HDRLEN + GENL_HDRLEN, &nla_len, 2);
    CHECK(stats_of(a, a.size(), 8, 0x1c, c).status == Status::kMalformed);
  }
  // Every truncation of a good reply (and of a family reply) fails cleanly.
  for (size_t n = 1; n < r.size(); ++n) {
    CAPTURE(n);
    CHECK(stats_of(r, n, 8, 0x1c, c).status == Status::kMalformed);
  }
  CHECK(stats_of(r, 0, 8, 0x1c, c).status == Status::kOtherSeq);  // an empty datagram says nothing
  Bytes f = family_reply(3, 0x17);
  uint16_t id = 0;
  for (size_t n = 1; n < f.size(); ++n) {
    CAPTURE(n);
    CHECK(family_of(f, n, 3, id).status == Status::kMalformed);
  }
  CHECK(id == 0);
}

TEST_CASE("genetlink: a live query (where the kernel has TASKSTATS)") {
  std::optional<CgroupStatsSocket> sock;
  try {
    sock.emplace();
  } catch (const std::exception& e) {
    MESSAGE("no TASKSTATS family here, live query skipped: " << e.what());
    return;
  }
  CHECK(sock->family_id() != 0);
  TaskCounts c;
  // Not a cgroupfs directory: the kernel refuses it.
  UniqueFd tmp = open_at(AT_FDCWD, "/tmp", O_RDONLY | O_DIRECTORY);
  CHECK(sock->query(tmp.get(), c) == EINVAL);
  // Our own v1 cpu cgroup counts this thread as running while it asks.
  std::ifstream in("/proc/self/cgroup");
  std::stringstream ss;
  ss << in.rdbuf();
  auto pc = core::parse_proc_cgroup(ss.str(), "/proc/self/cgroup");
  auto cpu = pc.v1.find("cpu");
  if (cpu == pc.v1.end()) {
    MESSAGE("no v1 cpu hierarchy here, cgroup query skipped");
    return;
  }
  std::string dir;
  for (const char* d : {"/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/cpu"}) {
    struct statfs sf;
    if (::statfs(d, &sf) == 0 && static_cast<unsigned long>(sf.f_type) == CGROUP_SUPER_MAGIC) {
      dir = std::string(d) + cpu->second;
      break;
    }
  }
  if (dir.empty()) {
    MESSAGE("the v1 cpu hierarchy is not mounted where expected, cgroup query skipped");
    return;
  }
  UniqueFd cg = open_at(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY);
  REQUIRE(sock->query(cg.get(), c) == 0);
  CHECK(c.running >= 1);
}
