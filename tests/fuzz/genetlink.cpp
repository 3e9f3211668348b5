// Generic netlink replies (lib/cgroup/cgroupstats.h): parse_family_id_reply
// and parse_cgroupstats_reply on one datagram as the kernel queues it for the
// loadavg sampler. The first 6 bytes are the request's sequence number (4)
// and the TASKSTATS family id (2), the rest the datagram. libFuzzer's buffer
// ends where the datagram ends, so ASan sees any read past it.
#include <linux/cgroupstats.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include <cstring>

#include "lib/cgroup/cgroupstats.h"
#include "tests/fuzz/fuzz_util.h"

using namespace vproc;
using Status = cgroup::NetlinkReply::Status;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 6) return 0;
  uint32_t seq = 0;
  uint16_t family = 0;
  std::memcpy(&seq, data, sizeof seq);
  std::memcpy(&family, data + 4, sizeof family);
  const uint8_t* dgram = data + 6;
  const size_t len = size - 6;

  uint16_t id = 0;
  cgroup::NetlinkReply f = cgroup::parse_family_id_reply(dgram, len, seq, id);
  FUZZ_CHECK((f.status == Status::kKernelError) == (f.error > 0));
  FUZZ_CHECK((f.status == Status::kOk) == (id != 0));

  cgroup::TaskCounts c;
  cgroup::NetlinkReply s = cgroup::parse_cgroupstats_reply(dgram, len, seq, family, c);
  FUZZ_CHECK((s.status == Status::kKernelError) == (s.error > 0));
  // An answer holds its headers and a whole struct cgroupstats.
  if (s.status == Status::kOk) {
    FUZZ_CHECK(len >= NLMSG_HDRLEN + GENL_HDRLEN + NLA_HDRLEN + sizeof(cgroupstats));
  }
  // Nothing in the datagram: nothing about the request.
  if (len == 0) FUZZ_CHECK(s.status == Status::kOtherSeq && f.status == Status::kOtherSeq);
  return 0;
}
