// Task counts of one cgroup v1 directory from the kernel's taskstats generic
// netlink family (linux/taskstats.h, linux/cgroupstats.h): a CGROUPSTATS_CMD_GET
// request carries an O_RDONLY|O_DIRECTORY fd of the cgroup's directory, the
// reply one struct cgroupstats. Two syscalls (sendto, recvfrom) instead of
// reading the tasks file and every task's /proc/<tid>/stat.
//
// The kernel (cgroupstats_build, kernel/cgroup/cgroup-v1.c) walks the tasks of
// that cgroup only, not of its descendants, and files each by its exact state:
// TASK_RUNNING, TASK_UNINTERRUPTIBLE (so TASK_IDLE threads, which loadavg leaves
// out, are not counted), and any other state with in_iowait set as nr_io_wait
// (killable waits for I/O, such as a page fault reading a file). It refuses a
// directory that is not on a v1 cgroupfs (v2, a copied tree) with EINVAL, and a
// removed cgroup with ENOENT.
//
// Generic netlink answers in the sender's context: the reply is queued before
// sendto returns, so receiving never waits. The parse_* functions are pure
// (bytes in, counts out) and check every length against the buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include "lib/base/unique_fd.h"

namespace vproc::cgroup {

// struct cgroupstats, by name.
struct TaskCounts {
  uint64_t sleeping = 0, running = 0, stopped = 0, uninterruptible = 0, io_wait = 0;
};

// What one datagram from the kernel said about the request numbered `seq`.
struct NetlinkReply {
  enum class Status {
    kOk,           // the wanted attribute was found
    kKernelError,  // an NLMSG_ERROR for this request: `error` is its errno
    kOtherSeq,     // nothing about this request (a late answer to an older one)
    kMalformed,    // lengths that do not add up, a missing attribute, an unexpected message
  };
  Status status = Status::kMalformed;
  int error = 0;
};

// The TASKSTATS family id in a CTRL_CMD_GETFAMILY reply (CTRL_ATTR_FAMILY_ID).
NetlinkReply parse_family_id_reply(const void* buf, size_t len, uint32_t seq, uint16_t& family_id);
// The counts in a CGROUPSTATS_CMD_GET reply (CGROUPSTATS_TYPE_CGROUP_STATS).
NetlinkReply parse_cgroupstats_reply(const void* buf, size_t len, uint32_t seq, uint16_t family_id,
                                     TaskCounts& out);

// The requests, as sent (exposed for the tests).
std::vector<uint8_t> family_id_request(uint32_t seq);
std::vector<uint8_t> cgroupstats_request(uint16_t family_id, uint32_t seq, int dirfd);

// A NETLINK_GENERIC socket with the TASKSTATS family resolved. Thread-safe.
class CgroupStatsSocket {
 public:
  // Opens the socket and resolves the family (before the seccomp filter:
  // socket() is not allowed after). Throws SysError when either fails.
  CgroupStatsSocket();
  CgroupStatsSocket(const CgroupStatsSocket&) = delete;
  CgroupStatsSocket& operator=(const CgroupStatsSocket&) = delete;

  uint16_t family_id() const { return family_; }
  // The counts of the tasks in the cgroup whose directory dirfd is. Returns 0
  // or an errno: EINVAL (not a v1 cgroupfs directory), ENOENT (the cgroup was
  // removed), EBADMSG (a malformed reply), ENODATA (no reply), others.
  int query(int dirfd, TaskCounts& out);

 private:
  // Sends req and parses the answer to it with parse; returns 0 or an errno.
  template <typename Parse>
  int exchange(const std::vector<uint8_t>& req, Parse parse);

  std::mutex mu_;
  UniqueFd sock_;
  uint16_t family_ = 0;
  uint32_t seq_ = 0;
  std::vector<uint8_t> buf_;
};

}  // namespace vproc::cgroup
