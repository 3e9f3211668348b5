#include "fsd/fuse/fs.h"

#include <optional>
#include <string>
#include <vector>

#include "fsd/fuse/uring.h"

namespace vproc::fuse {

namespace {

FsContext& ctx(fuse_req_t req) { return *static_cast<FsContext*>(fuse_req_userdata(req)); }

// Sends an op's one reply: its errno, or its value through reply_value.
template <typename T, typename F>
int send(fuse_req_t req, const Result<T>& r, F reply_value) {
  return r.err() != 0 ? fuse_reply_err(req, r.err()) : reply_value(*r);
}

// The same for ops that answer only an errno (0: reply_ok).
template <typename F>
int send(fuse_req_t req, int err, F reply_ok) {
  return err != 0 ? fuse_reply_err(req, err) : reply_ok();
}

void op_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  const FsContext& c = ctx(req);
  send(req, guarded("lookup", [&] { return do_lookup(c, parent, name); }), [&](const Entry& v) {
    fuse_entry_param e{};
    e.ino = v.ino;
    e.attr = v.attr.st;
    e.attr_timeout = v.attr.timeout;
    e.entry_timeout = v.entry_timeout;
    return fuse_reply_entry(req, &e);
  });
}

void op_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  const FsContext& c = ctx(req);
  send(req, guarded("getattr", [&] { return do_getattr(c, ino); }),
       [&](const Attr& a) { return fuse_reply_attr(req, &a.st, a.timeout); });
}

void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
  const FsContext& c = ctx(req);
  Result<std::string> r = guarded("readdir", [&]() -> Result<std::string> {
    Result<std::vector<DirEntry>> list = do_readdir(c, ino, off);
    if (list.err() != 0) return Errno{list.err()};
    return pack_dirents(req, *list, size);
  });
  send(req, r, [&](const std::string& buf) { return fuse_reply_buf(req, buf.data(), buf.size()); });
}

void op_opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  const FsContext& c = ctx(req);
  send(req, guarded("opendir", [&] { return do_opendir(c, ino); }),
       [&] { return fuse_reply_open(req, fi); });
}

// Who sent `req`: resolved here, before the gate, which shares the workers
// between tenants (their cgroups). Answers the errno itself when the reader
// cannot be resolved (the pid is gone).
std::optional<view::Reader> reader_of(fuse_req_t req, const char* op) {
  FsContext& c = ctx(req);
  const pid_t pid = fuse_req_ctx(req)->pid;
  Result<view::Reader> who =
      guarded(op, [&]() -> Result<view::Reader> { return c.views->reader(pid); });
  if (who.err() != 0) {
    fuse_reply_err(req, who.err());
    return std::nullopt;
  }
  return *who;
}

void open_now(fuse_req_t req, fuse_ino_t ino, fuse_file_info fi, const view::Reader& who) {
  FsContext& c = ctx(req);
  Result<uint64_t> r = guarded("open", [&] { return do_open(c, ino, fi.flags, who); });
  int sent = send(req, r, [&](uint64_t id) {
    fi.fh = id;
    fi.direct_io = 1;
    fi.keep_cache = 0;
    return fuse_reply_open(req, &fi);
  });
  // Interrupted: the kernel sends no RELEASE for an open it did not see.
  if (sent != 0 && r.err() == 0) c.handles.remove(*r);
}

void op_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  std::optional<view::Reader> who = reader_of(req, "open");
  if (!who) return;
  const fuse_file_info copy = *fi;  // *fi lives only as long as this call
  ctx(req).gate.run(
      who->cgroups->tenant, [req, ino, copy, w = *who] { open_now(req, ino, copy, w); },
      !serving_ring_request());
}

void reply_slice(fuse_req_t req, const Result<Slice>& r) {
  send(req, r, [&](const Slice& s) { return fuse_reply_buf(req, s.bytes(), s.length); });
}

// A read at offset 0 of a handle read before renders again (top, vmstat and
// free -s keep their fds): through the gate, like an open. Other reads
// answer from the handle's rendering at once.
void op_read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  FsContext& c = ctx(req);
  const uint64_t fh = fi->fh;
  HandleTable::ForRead h = c.handles.for_read(fh, off);
  if (!h.stale) {
    reply_slice(req, slice_of(std::move(h.data), size, off));
    return;
  }
  std::optional<view::Reader> who = reader_of(req, "read");
  if (!who) return;
  c.gate.run(
      who->cgroups->tenant,
      [req, fh, size, kind = h.kind, w = *who] {
        reply_slice(req,
                    guarded("read", [&] { return do_read_again(ctx(req), fh, kind, w, size); }));
      },
      !serving_ring_request());
}

void op_release(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  FsContext& c = ctx(req);
  fuse_reply_err(req, guarded("release", [&] { return do_release(c, fi->fh); }));
}

void op_statfs(fuse_req_t req, fuse_ino_t) {
  struct statvfs sv = do_statfs();  // cannot fail
  fuse_reply_statfs(req, &sv);
}

fuse_lowlevel_ops make_ops() {
  fuse_lowlevel_ops o{};
  o.lookup = op_lookup;
  o.getattr = op_getattr;
  o.readdir = op_readdir;
  o.opendir = op_opendir;
  o.open = op_open;
  o.read = op_read;
  o.release = op_release;
  o.statfs = op_statfs;
  // No flush, write, setattr, create, mkdir...: libfuse answers ENOSYS, and
  // the kernel stops sending FLUSH after the first ENOSYS.
  return o;
}

}  // namespace

std::string pack_dirents(fuse_req_t req, const std::vector<DirEntry>& list, size_t size) {
  std::string buf(size, '\0');
  size_t used = 0;
  for (const DirEntry& d : list) {
    struct stat st {};
    st.st_ino = d.ino;
    st.st_mode = d.dir ? S_IFDIR : S_IFREG;
    size_t need =
        fuse_add_direntry(req, buf.data() + used, size - used, d.name.c_str(), &st, d.next);
    if (need > size - used) break;
    used += need;
  }
  buf.resize(used);
  return buf;
}

const fuse_lowlevel_ops& ops() {
  static const fuse_lowlevel_ops o = make_ops();
  return o;
}

}  // namespace vproc::fuse
