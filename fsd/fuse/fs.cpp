#include "fsd/fuse/fs.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "lib/base/log.h"
#include "lib/base/sys_error.h"

namespace vproc::fuse {

namespace {

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
    c.activity.fetch_add(1, std::memory_order_relaxed);
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
    for (const Node* n : c.tree.children(ino)) list.push_back({n->name.c_str(), n->ino, n->dir});
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
    c.activity.fetch_add(1, std::memory_order_relaxed);
    pid_t pid = fuse_req_ctx(req)->pid;
    uint64_t id = c.handles.add(c.views->render(n->kind, pid), c.max_handles);
    if (id == 0) {
      log_limited("open: " + std::to_string(c.max_handles) + " files open, refusing more");
      fuse_reply_err(req, ENFILE);
      return;
    }
    fi->fh = id;
    fi->direct_io = 1;
    fi->keep_cache = 0;
    // Interrupted: the kernel sends no RELEASE for an open it did not see.
    if (fuse_reply_open(req, fi) != 0) c.handles.remove(id);
  });
}

void op_read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  std::shared_ptr<const std::string> data = ctx(req).handles.get(fi->fh);
  if (!data || off < 0 || static_cast<size_t>(off) >= data->size()) {
    fuse_reply_buf(req, nullptr, 0);
    return;
  }
  size_t n = std::min(size, data->size() - static_cast<size_t>(off));
  fuse_reply_buf(req, data->data() + off, n);
}

void op_release(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  ctx(req).handles.remove(fi->fh);
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

uint64_t HandleTable::add(std::string data, size_t max) {
  auto p = std::make_shared<const std::string>(std::move(data));
  std::lock_guard<std::mutex> lock(mu_);
  if (open_.size() >= max) return 0;
  uint64_t id = next_++;
  open_.emplace(id, std::move(p));
  return id;
}

std::shared_ptr<const std::string> HandleTable::get(uint64_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = open_.find(id);
  return it == open_.end() ? nullptr : it->second;
}

size_t HandleTable::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return open_.size();
}

void HandleTable::remove(uint64_t id) {
  std::shared_ptr<const std::string> last;  // freed after the lock is dropped
  std::lock_guard<std::mutex> lock(mu_);
  auto it = open_.find(id);
  if (it == open_.end()) return;
  last = std::move(it->second);
  open_.erase(it);
}

const fuse_lowlevel_ops& ops() {
  static const fuse_lowlevel_ops o = make_ops();
  return o;
}

}  // namespace vproc::fuse
