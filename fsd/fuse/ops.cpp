#include "fsd/fuse/ops.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <exception>
#include <new>

#include "lib/base/log.h"
#include "lib/base/sys_error.h"

namespace vproc::fuse {

namespace {

// Files: a short sendfile shrinks the kernel's idea of the size to that
// reader's content; a fresh size comes with each lookup and getattr.
double cache_seconds(const FsContext& c, const Node& n) { return n.dir ? c.timeout : 1.0; }

Attr attr_of(const FsContext& c, const Node& n) {
  struct stat st {};
  st.st_ino = n.ino;
  // The root (inode 1) is traversable but not listable by other host users.
  const mode_t dir_mode = n.ino == 1 ? 0711 : 0555;
  st.st_mode = n.dir ? (S_IFDIR | dir_mode) : (S_IFREG | 0444);
  st.st_nlink = n.dir ? 2 : 1;
  st.st_size = n.dir ? 0 : static_cast<off_t>(c.views->size_hint(n.kind));
  st.st_blksize = 4096;
  st.st_atim = st.st_mtim = st.st_ctim = c.started;
  return {st, cache_seconds(c, n)};
}

}  // namespace

Result<Entry> do_lookup(const FsContext& c, unsigned long parent, std::string_view name) {
  c.activity.fetch_add(1, std::memory_order_relaxed);
  const Node* n = c.tree.child(parent, name);
  if (!n) return Errno{ENOENT};
  return Entry{n->ino, attr_of(c, *n), cache_seconds(c, *n)};
}

Result<Attr> do_getattr(const FsContext& c, unsigned long ino) {
  const Node* n = c.tree.find(ino);
  if (!n) return Errno{ENOENT};
  return attr_of(c, *n);
}

Result<std::vector<DirEntry>> do_readdir(const FsContext& c, unsigned long ino, off_t off) {
  const Node* dir = c.tree.find(ino);
  if (!dir || !dir->dir) return Errno{ENOTDIR};
  std::vector<DirEntry> all = {{".", dir->ino, true, 0}, {"..", dir->parent, true, 0}};
  for (const Node* n : c.tree.children(ino)) all.push_back({n->name, n->ino, n->dir, 0});
  std::vector<DirEntry> out;
  for (size_t i = static_cast<size_t>(off); i < all.size(); ++i) {
    all[i].next = static_cast<off_t>(i + 1);
    out.push_back(std::move(all[i]));
  }
  return out;
}

int do_opendir(const FsContext& c, unsigned long ino) {
  const Node* n = c.tree.find(ino);
  if (!n) return ENOENT;
  return n->dir ? 0 : ENOTDIR;
}

Result<uint64_t> do_open(FsContext& c, unsigned long ino, int flags, pid_t pid) {
  return do_open(c, ino, flags, c.views->reader(pid));
}

Result<uint64_t> do_open(FsContext& c, unsigned long ino, int flags, const view::Reader& who) {
  const Node* n = c.tree.find(ino);
  if (!n) return Errno{ENOENT};
  if (n->dir) return Errno{EISDIR};
  if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC)) return Errno{EACCES};
  c.activity.fetch_add(1, std::memory_order_relaxed);
  const std::string& tenant = who.cgroups->tenant;
  const HandleQuota q = HandleQuota::for_max_open(c.max_handles);
  const HandleTable::Reserved slot = c.handles.reserve(tenant, n->kind, q);
  if (slot.err == ENFILE) {
    log_limited("open: " + std::to_string(c.max_handles) + " files open, refusing more");
  } else if (slot.first_refusal) {
    log_limited("open: cgroups " + tenant + " hold their share of open files (" +
                std::to_string(q.tenant_open) + " files or " +
                std::to_string(q.tenant_bytes >> 20) + " MiB), refusing more");
  }
  if (slot.err != 0) return Errno{slot.err};
  try {
    c.handles.replace(slot.id, c.views->render(n->kind, who));
  } catch (...) {
    c.handles.remove(slot.id);
    throw;
  }
  return slot.id;
}

Result<Slice> do_read(FsContext& c, uint64_t fh, size_t size, off_t off, pid_t pid) {
  HandleTable::ForRead h = c.handles.for_read(fh, off);
  // A kept fd read again from the start (top, vmstat, free -s): show now, as
  // the kernel's own files do, to whoever reads.
  if (h.stale) return do_read_again(c, fh, h.kind, c.views->reader(pid), size);
  return slice_of(std::move(h.data), size, off);
}

Slice slice_of(std::shared_ptr<const std::string> data, size_t size, off_t off) {
  if (!data || off < 0 || static_cast<size_t>(off) >= data->size()) return Slice{};
  size_t start = static_cast<size_t>(off);
  size_t length = std::min(size, data->size() - start);
  return Slice{std::move(data), start, length};
}

Result<Slice> do_read_again(FsContext& c, uint64_t fh, FileKind kind, const view::Reader& who,
                            size_t size) {
  return slice_of(c.handles.replace(fh, c.views->render(kind, who)), size, 0);
}

int do_release(FsContext& c, uint64_t fh) {
  c.handles.remove(fh);
  return 0;
}

struct statvfs do_statfs() {
  struct statvfs sv {};
  sv.f_bsize = sv.f_frsize = 4096;
  sv.f_namemax = 255;
  sv.f_flag = ST_RDONLY;
  return sv;
}

int errno_for_exception(const char* op) {
  try {
    throw;
  } catch (const SysError& e) {
    log_limited(std::string(op) + ": " + e.what());
    return e.err() == ENOENT || e.err() == ESRCH ? e.err() : EIO;
  } catch (const std::bad_alloc&) {
    return ENOMEM;
  } catch (const std::exception& e) {
    log_limited(std::string(op) + ": " + e.what());
    return EIO;
  } catch (...) {
    log_limited(std::string(op) + ": unknown exception");
    return EIO;
  }
}

}  // namespace vproc::fuse
