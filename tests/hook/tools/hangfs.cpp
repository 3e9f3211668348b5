// A FUSE server that never answers: mounted on DIR inside the mount namespace
// of PID, it answers INIT and then reads every request and leaves it
// unanswered, so whoever looks up a path beneath DIR waits until this
// process exits (a wait that, once the request is read, not even SIGKILL
// ends). Stands for a container's own FUSE mount that hangs.
//
//   vproc_test_hangfs PID DIR    prints "ready" once mounted, then serves
//                                until killed
#include <fcntl.h>
#include <linux/fuse.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

int fail(const char* what, const std::string& arg) {
  std::fprintf(stderr, "vproc_test_hangfs: %s %s: %s\n", what, arg.c_str(), std::strerror(errno));
  return 1;
}

// Answers the INIT request; false when the first request is something else.
bool answer_init(int dev) {
  std::vector<char> buf(1 << 20);
  ssize_t n = ::read(dev, buf.data(), buf.size());
  if (n < static_cast<ssize_t>(sizeof(fuse_in_header) + sizeof(fuse_init_in))) return false;
  fuse_in_header in{};
  std::memcpy(&in, buf.data(), sizeof in);
  if (in.opcode != FUSE_INIT) return false;
  fuse_init_in init{};
  std::memcpy(&init, buf.data() + sizeof in, sizeof init);
  struct {
    fuse_out_header h;
    fuse_init_out o;
  } reply{};
  reply.h.len = sizeof reply;
  reply.h.unique = in.unique;
  reply.o.major = FUSE_KERNEL_VERSION;
  reply.o.minor = init.minor < FUSE_KERNEL_MINOR_VERSION ? init.minor : FUSE_KERNEL_MINOR_VERSION;
  reply.o.max_readahead = init.max_readahead;
  reply.o.max_write = 4096;
  return ::write(dev, &reply, sizeof reply) == static_cast<ssize_t>(sizeof reply);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: vproc_test_hangfs PID DIR\n");
    return 2;
  }
  const std::string ns = std::string("/proc/") + argv[1] + "/ns/mnt";
  int dev = ::open("/dev/fuse", O_RDWR | O_CLOEXEC);
  if (dev < 0) return fail("open", "/dev/fuse");
  int nsfd = ::open(ns.c_str(), O_RDONLY | O_CLOEXEC);
  if (nsfd < 0) return fail("open", ns);
  if (::setns(nsfd, CLONE_NEWNS) != 0) return fail("setns", ns);
  const std::string opts =
      "fd=" + std::to_string(dev) + ",rootmode=40000,user_id=0,group_id=0,allow_other";
  if (::mount("hangfs", argv[2], "fuse.hangfs", MS_NOSUID | MS_NODEV, opts.c_str()) != 0) {
    return fail("mount", argv[2]);
  }
  std::printf("ready\n");
  std::fflush(stdout);
  if (!answer_init(dev)) return fail("INIT", "");
  std::vector<char> buf(1 << 20);
  for (;;) {
    // Read and never answered.
    if (::read(dev, buf.data(), buf.size()) < 0 && errno != EINTR && errno != EAGAIN) {
      return errno == ENODEV ? 0 : fail("read", "/dev/fuse");
    }
  }
}
