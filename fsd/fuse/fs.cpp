#include "fsd/fuse/fs.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "common/log.h"
#include "common/sys_error.h"

namespace vproc::fuse {

namespace {

struct Handle {
  std::string data;
};

FsContext& ctx(fuse_req_t req) { return *static_cast<FsContext*>(fuse_req_userdata(req)); }

struct stat attr_of(const FsContext& c, const Node& n) {
  struct stat st {};
  st.st_ino = n.ino;
  st.st_mode = n.dir ? (S_IFDIR | 0555) : (S_IFREG | 0444);
  st.st_nlink = n.dir ? 2 : 1;
  st.st_size = n.dir ? 0 : static_cast<off_t>(c.views->size_hint(n.kind));
  st.st_blksize = 4096;
  st.st_atim = st.st_mtim = st.st_ctim = c.started;
  return st;
}

// Runs one op body; any exception becomes one errno reply (and a log line).
template <typename F>
void guarded(fuse_req_t req, const char* op, F body) {
  try {
    body();
  } catch (const SysError& e) {
    log_limited(std::string(op) + ": " + e.what());
    fuse_reply_err(req, e.err() == ENOENT || e.err() == ESRCH ? e.err() : EIO);
  } catch (const std::bad_alloc&) {
    fuse_reply_err(req, ENOMEM);
  } catch (const std::exception& e) {
    log_limited(std::string(op) + ": " + e.what());
    fuse_reply_err(req, EIO);
  }
}

void op_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  guarded(req, "lookup", [&] {
    const FsContext& c = ctx(req);
    const Node* n = c.tree.child(parent, name);
    if (!n) {
      fuse_reply_err(req, ENOENT);
      return;
    }
    fuse_entry_param e{};
    e.ino = n->ino;
    e.attr = attr_of(c, *n);
    // Files: a short sendfile shrinks the kernel's idea of the size to that
    // reader's content; a fresh size comes with each lookup and getattr.
    e.attr_timeout = n->dir ? c.timeout : 1.0;
    e.entry_timeout = n->dir ? c.timeout : 1.0;
    fuse_reply_entry(req, &e);
  });
}

void op_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  guarded(req, "getattr", [&] {
    const FsContext& c = ctx(req);
    const Node* n = c.tree.find(ino);
    if (!n) {
      fuse_reply_err(req, ENOENT);
      return;
    }
    struct stat st = attr_of(c, *n);
    fuse_reply_attr(req, &st, n->dir ? c.timeout : 1.0);
  });
}

void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
  guarded(req, "readdir", [&] {
    const FsContext& c = ctx(req);
    const Node* dir = c.tree.find(ino);
    if (!dir || !dir->dir) {
      fuse_reply_err(req, ENOTDIR);
      return;
    }
    struct Entry {
      const char* name;
      unsigned long ino;
      bool dir;
    };
    std::vector<Entry> list = {{".", dir->ino, true}, {"..", dir->parent, true}};
    for (const Node* n : c.tree.children(ino)) list.push_back({n->name, n->ino, n->dir});
    std::string buf(size, '\0');
    size_t used = 0;
    for (size_t i = static_cast<size_t>(off); i < list.size(); ++i) {
      struct stat st {};
      st.st_ino = list[i].ino;
      st.st_mode = list[i].dir ? S_IFDIR : S_IFREG;
      size_t need = fuse_add_direntry(req, buf.data() + used, size - used, list[i].name, &st,
                                      static_cast<off_t>(i + 1));
      if (need > size - used) break;
      used += need;
    }
    fuse_reply_buf(req, buf.data(), used);
  });
}

void op_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  guarded(req, "open", [&] {
    FsContext& c = ctx(req);
    const Node* n = c.tree.find(ino);
    if (!n) {
      fuse_reply_err(req, ENOENT);
      return;
    }
    if (n->dir) {
      fuse_reply_err(req, EISDIR);
      return;
    }
    if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
      fuse_reply_err(req, EACCES);
      return;
    }
    if (c.handles.fetch_add(1) >= FsContext::kMaxHandles) {
      c.handles.fetch_sub(1);
      log_limited("open: " + std::to_string(FsContext::kMaxHandles) + " files open, refusing more");
      fuse_reply_err(req, ENFILE);
      return;
    }
    struct Undo {
      FsContext& c;
      bool armed = true;
      ~Undo() {
        if (armed) c.handles.fetch_sub(1);
      }
    } undo{c};
    pid_t pid = fuse_req_ctx(req)->pid;
    auto h = std::make_unique<Handle>();
    h->data = c.views->render(n->kind, pid);
    fi->fh = reinterpret_cast<uint64_t>(h.get());
    fi->direct_io = 1;
    fi->keep_cache = 0;
    if (fuse_reply_open(req, fi) == 0) {
      h.release();
      undo.armed = false;
    }
  });
}

void op_read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  const auto* h = reinterpret_cast<const Handle*>(fi->fh);
  if (off < 0 || static_cast<size_t>(off) >= h->data.size()) {
    fuse_reply_buf(req, nullptr, 0);
    return;
  }
  size_t n = std::min(size, h->data.size() - static_cast<size_t>(off));
  fuse_reply_buf(req, h->data.data() + off, n);
}

void op_release(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  delete reinterpret_cast<Handle*>(fi->fh);
  ctx(req).handles.fetch_sub(1);
  fuse_reply_err(req, 0);
}

void op_opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  const Node* n = ctx(req).tree.find(ino);
  if (!n) {
    fuse_reply_err(req, ENOENT);
  } else if (!n->dir) {
    fuse_reply_err(req, ENOTDIR);
  } else {
    fuse_reply_open(req, fi);
  }
}

void op_statfs(fuse_req_t req, fuse_ino_t) {
  struct statvfs sv {};
  sv.f_bsize = sv.f_frsize = 4096;
  sv.f_namemax = 255;
  sv.f_flag = ST_RDONLY;
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

const fuse_lowlevel_ops& ops() {
  static const fuse_lowlevel_ops o = make_ops();
  return o;
}

}  // namespace vproc::fuse
