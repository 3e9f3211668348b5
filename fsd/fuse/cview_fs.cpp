#include "fsd/fuse/cview_fs.h"

#include <fcntl.h>

#include <atomic>
#include <string>
#include <vector>

#include "fsd/fuse/fs.h"
#include "lib/base/log.h"

namespace vproc::fuse {

namespace {

ContainerView& view(fuse_req_t req) { return *static_cast<ContainerView*>(fuse_req_userdata(req)); }

// Set at INIT: the kernel agreed to no-open (OPEN answered ENOSYS once stops
// OPEN and RELEASE for the connection). Without it, opens keep the cache.
std::atomic<bool> g_no_open{false};

template <typename T, typename F>
void send(fuse_req_t req, const Result<T>& r, F reply_value) {
  if (r.err() != 0) {
    fuse_reply_err(req, r.err());
  } else {
    reply_value(*r);
  }
}

void op_init(void*, fuse_conn_info* conn) {
  if (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT) conn->want |= FUSE_CAP_NO_OPEN_SUPPORT;
  if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA) conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
  g_no_open = (conn->want & FUSE_CAP_NO_OPEN_SUPPORT) != 0;
  if (!(conn->want & FUSE_CAP_AUTO_INVAL_DATA)) {
    log_line(
        "vprocd: container view: the kernel has no auto_inval_data; files refresh at each open");
  }
}

void op_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  ContainerView& v = view(req);
  send(req, guarded("view lookup", [&] { return v.lookup(parent, name); }), [&](const Entry& e) {
    fuse_entry_param p{};
    p.ino = e.ino;
    p.attr = e.attr.st;
    p.attr_timeout = e.attr.timeout;
    p.entry_timeout = e.entry_timeout;
    fuse_reply_entry(req, &p);
  });
}

void op_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  ContainerView& v = view(req);
  send(req, guarded("view getattr", [&] { return v.getattr(ino); }),
       [&](const Attr& a) { fuse_reply_attr(req, &a.st, a.timeout); });
}

void op_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  ContainerView& v = view(req);
  if ((fi->flags & O_ACCMODE) != O_RDONLY) {
    fuse_reply_err(req, EACCES);
    return;
  }
  int err = guarded("view open", [&] { return v.check(ino, /*want_dir=*/false); });
  if (err == 0 && g_no_open) err = ENOSYS;  // from now on the kernel opens by itself
  if (err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  fi->keep_cache = 1;
  fi->noflush = 1;
  fuse_reply_open(req, fi);
}

void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
  ContainerView& v = view(req);
  send(req, guarded("view read", [&] { return v.read(ino, size, off); }),
       [&](const Slice& s) { fuse_reply_buf(req, s.bytes(), s.length); });
}

void op_opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  ContainerView& v = view(req);
  int err = guarded("view opendir", [&] { return v.check(ino, /*want_dir=*/true); });
  if (err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  fuse_reply_open(req, fi);
}

void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
  ContainerView& v = view(req);
  Result<std::vector<DirEntry>> list = guarded("view readdir", [&] { return v.readdir(ino, off); });
  send(req, list, [&](const std::vector<DirEntry>& entries) {
    std::string buf = pack_dirents(req, entries, size);
    fuse_reply_buf(req, buf.data(), buf.size());
  });
}

void op_statfs(fuse_req_t req, fuse_ino_t) {
  struct statvfs sv = do_statfs();
  fuse_reply_statfs(req, &sv);
}

fuse_lowlevel_ops make_ops() {
  fuse_lowlevel_ops o{};
  o.init = op_init;
  o.lookup = op_lookup;
  o.getattr = op_getattr;
  o.open = op_open;
  o.read = op_read;
  o.opendir = op_opendir;
  o.readdir = op_readdir;
  o.statfs = op_statfs;
  // No flush: libfuse answers ENOSYS and the kernel stops sending it.
  return o;
}

}  // namespace

const fuse_lowlevel_ops& view_ops() {
  static const fuse_lowlevel_ops o = make_ops();
  return o;
}

bool view_no_open() { return g_no_open; }

}  // namespace vproc::fuse
