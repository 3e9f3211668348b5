// FUSE over io_uring (Linux >= 6.14, fuse module parameter enable_uring=Y).
//
// With /dev/fuse, a reader's request wakes whichever vprocd worker thread is
// waiting, usually on the other CPU: every round trip of an open (OPEN, READ,
// READ at EOF, RELEASE) pays two cross-CPU wake-ups. Over io_uring the kernel
// keeps one request queue per CPU and hands a request to the ring of the CPU
// the reader runs on; vprocd serves each ring from a thread pinned to that
// CPU, so the reader and the server take turns on one CPU.
//
// Debian 12's libfuse (3.14) predates io_uring. The transport plugs into the
// session through fuse_session_custom_io(): its read hook sees whether the
// kernel offers io_uring in INIT, its writev hook asks for it in libfuse's
// INIT reply and captures the replies of requests that came from a ring.
// Requests from a ring are handed to libfuse (fuse_session_process_buf) in the
// classic /dev/fuse layout, so the file system code does not know which path a
// request took. Until every CPU's ring is registered, and for FORGET and
// INTERRUPT always, requests keep coming through /dev/fuse and the libfuse
// worker threads.
//
// Confinement: the rings are created disabled, restricted to the two SQE
// operations the transport uses (URING_CMD, POLL_ADD) and only then enabled,
// all before the seccomp filter, which allows io_uring_enter but neither
// io_uring_setup nor io_uring_register: a compromised vprocd cannot use a ring
// to open files or sockets behind the filter's back.
//
// Three units: fsd/fuse/uring_ring.h (the raw ring), fsd/fuse/uring_proto.h
// (the protocol's layouts, pure), and this one (the threads and the hooks).
#pragma once

#include <fuse_lowlevel.h>

#include <memory>
#include <string>

namespace vproc::fuse {

enum class UringMode {
  kOff,   // /dev/fuse only
  kAuto,  // io_uring when the kernel offers it (enable_uring=Y)
  kOn,    // turn the kernel's enable_uring on first if it is off
};

// Whether this thread is serving a request that came from a ring: its reply
// must be sent before that request's processing returns (the ring entry is
// this thread's), so such a request is never set aside for later.
bool serving_ring_request();

// Parses "off", "auto", "on"; throws std::invalid_argument otherwise.
UringMode parse_uring_mode(const std::string& s);

class UringTransport {
 public:
  // Before mounting (the kernel's INIT offers io_uring only when enable_uring
  // is on at mount time): whether the kernel allows FUSE over io_uring; kOn
  // turns enable_uring on first. Logs why not (except for kOff); throws
  // SysError for kOn when io_uring cannot be had.
  static bool kernel_allows(UringMode mode);

  // After mounting, before the session's first request is read and before
  // the sandbox, when kernel_allows() said yes: creates one ring per possible
  // CPU and installs the I/O hooks. Returns nullptr (after logging why) when
  // that fails; the session then runs on /dev/fuse as usual.
  static std::unique_ptr<UringTransport> prepare(fuse_session* se, UringMode mode);

  // Starts one thread per ring (after the sandbox: threads inherit it). Each
  // pins itself to its CPU, waits for the INIT reply and registers its ring
  // entries if the kernel accepted io_uring.
  void start();
  // Stops and joins the threads. Requests still queued on a ring fail with
  // ENOTCONN once the connection ends.
  void stop();
  ~UringTransport();

  UringTransport(const UringTransport&) = delete;
  UringTransport& operator=(const UringTransport&) = delete;

  struct Impl;

 private:
  explicit UringTransport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vproc::fuse
