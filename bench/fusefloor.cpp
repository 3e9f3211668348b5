// fusefloor: the floor of a libfuse read path, for bench/run.sh.
//
// A minimal libfuse 3 low-level server that serves one file, DIR/meminfo, whose content is a copy
// of /proc/meminfo taken at start. It does what vprocd must do at the protocol level and nothing
// else: direct_io (so every open reaches the server), a per-open buffer copied at OPEN, READ at
// an offset, RELEASE frees it; lookup/getattr cached for an hour. The difference between vprocd
// and this floor is vprocd's own work (caller lookup, cgroup reads, rendering); the floor itself
// is the price of the FUSE round trips (OPEN, READ, READ at EOF, RELEASE) on this machine.
//
// With --io-uring, requests come through vprocd's FUSE-over-io_uring transport
// (fsd/fuse/uring.cpp, when the fuse module's enable_uring is on): the floor of
// that transport. With --one-thread, one thread serves every request
// (fuse_session_loop), as ../shared/proto/noopen_proto.c does in its mode 0:
// the minimal one-thread server of a fixed text that issue 16 measures the
// per-reader path against.
//
//   fusefloor MOUNTPOINT [--io-uring | --one-thread]   foreground; SIGTERM/SIGINT unmount and exit
#define FUSE_USE_VERSION 312
#include <fcntl.h>
#include <fuse3/fuse_lowlevel.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "fsd/fuse/uring.h"

namespace {

constexpr fuse_ino_t kFileIno = 2;
constexpr double kTimeout = 3600;
std::string g_content;

struct stat attr_of(fuse_ino_t ino) {
  struct stat st {};
  st.st_ino = ino;
  if (ino == FUSE_ROOT_ID) {
    st.st_mode = S_IFDIR | 0555;
    st.st_nlink = 2;
  } else {
    st.st_mode = S_IFREG | 0444;
    st.st_nlink = 1;
    st.st_size = 0;  // like procfs: size unknown, read to EOF
  }
  return st;
}

void op_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  if (parent != FUSE_ROOT_ID || std::strcmp(name, "meminfo") != 0) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  fuse_entry_param e{};
  e.ino = kFileIno;
  e.attr = attr_of(kFileIno);
  e.attr_timeout = kTimeout;
  e.entry_timeout = kTimeout;
  fuse_reply_entry(req, &e);
}

void op_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  if (ino != FUSE_ROOT_ID && ino != kFileIno) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  struct stat st = attr_of(ino);
  fuse_reply_attr(req, &st, kTimeout);
}

void op_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  if (ino != kFileIno) {
    fuse_reply_err(req, EISDIR);
    return;
  }
  auto* h = new std::string(g_content);  // per-open buffer, as a per-reader render would be
  fi->fh = reinterpret_cast<uint64_t>(h);
  fi->direct_io = 1;
  if (fuse_reply_open(req, fi) != 0) delete h;
}

void op_read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  const auto* h = reinterpret_cast<const std::string*>(fi->fh);
  if (off < 0 || static_cast<size_t>(off) >= h->size()) {
    fuse_reply_buf(req, nullptr, 0);
    return;
  }
  size_t n = std::min(size, h->size() - static_cast<size_t>(off));
  fuse_reply_buf(req, h->data() + off, n);
}

void op_release(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  delete reinterpret_cast<std::string*>(fi->fh);
  fuse_reply_err(req, 0);
}

}  // namespace

int main(int argc, char** argv) {
  const bool uring = argc == 3 && std::strcmp(argv[2], "--io-uring") == 0;
  const bool one_thread = argc == 3 && std::strcmp(argv[2], "--one-thread") == 0;
  if (argc != 2 && !uring && !one_thread) {
    std::fprintf(stderr, "usage: fusefloor MOUNTPOINT [--io-uring | --one-thread]\n");
    return 2;
  }
  int fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
  char buf[65536];
  ssize_t n;
  while (fd >= 0 && (n = read(fd, buf, sizeof buf)) > 0) g_content.append(buf, size_t(n));
  if (fd >= 0) close(fd);

  fuse_lowlevel_ops ops{};
  ops.lookup = op_lookup;
  ops.getattr = op_getattr;
  ops.open = op_open;
  ops.read = op_read;
  ops.release = op_release;
  char arg0[] = "fusefloor";
  char* args_v[] = {arg0, nullptr};
  fuse_args args = FUSE_ARGS_INIT(1, args_v);
  fuse_session* se = fuse_session_new(&args, &ops, sizeof ops, nullptr);
  if (uring && !vproc::fuse::UringTransport::kernel_allows(vproc::fuse::UringMode::kAuto)) {
    std::fprintf(stderr, "fusefloor: FUSE over io_uring is not available\n");
    return 1;
  }
  if (!se || fuse_set_signal_handlers(se) != 0 || fuse_session_mount(se, argv[1]) != 0) {
    std::fprintf(stderr, "fusefloor: cannot mount %s\n", argv[1]);
    return 1;
  }
  std::unique_ptr<vproc::fuse::UringTransport> ring;
  if (uring) {
    ring = vproc::fuse::UringTransport::prepare(se, vproc::fuse::UringMode::kAuto);
    if (!ring) return 1;
    ring->start();
  }
  int rc = 0;
  if (one_thread) {
    rc = fuse_session_loop(se);
  } else {
    fuse_loop_config* cfg = fuse_loop_cfg_create();
    fuse_loop_cfg_set_max_threads(cfg, 8);
    fuse_loop_cfg_set_idle_threads(cfg, 8);  // keep workers: no thread churn per request
    rc = fuse_session_loop_mt(se, cfg);
    fuse_loop_cfg_destroy(cfg);
  }
  if (ring) ring->stop();
  fuse_session_unmount(se);
  fuse_remove_signal_handlers(se);
  fuse_session_destroy(se);
  return rc == 0 ? 0 : 1;
}
