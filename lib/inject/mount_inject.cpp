#include "lib/inject/mount_inject.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <set>

#include "lib/base/io.h"
#include "lib/base/sys_error.h"
#include "lib/base/unique_fd.h"
#include "lib/files/files.h"
#include "lib/inject/mountinfo.h"
#include "lib/proc/identity.h"

namespace vproc {

namespace {

constexpr long kFuseSuperMagic = 0x65735546;
// vprocd mounts with subtype=vprocd; another FUSE filesystem (lxcfs) on a
// target is never replaced.
constexpr const char* kOwnFsType = "fuse.vprocd";
constexpr unsigned kMoveEmpty = MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH;

using Mounts = std::vector<MountInfo>;

// glibc 2.36 has no openat2 wrapper.
int sys_openat2(int dirfd, const char* path, const open_how& how) {
  return static_cast<int>(::syscall(SYS_openat2, dirfd, path, &how, sizeof how));
}

bool on_fuse(const MountInfo& m) { return m.fstype.rfind("fuse", 0) == 0; }

bool is_cpu_dir(const MountInfo& m) { return m.fstype == "tmpfs" && m.source == kCpuDirSource; }

// PID's mount table, read through the host's /proc.
Mounts read_mounts(int proc, pid_t pid) {
  std::string rel = std::to_string(pid) + "/mountinfo";
  UniqueFd fd = open_at(proc, rel, O_RDONLY, "/proc/" + rel);
  return parse_mountinfo(pread_all(fd.get(), "/proc/" + rel));
}

// Runs once the namespace fd is open: a pid that died and was reused before
// that has another start time, so the fd is refused instead of entered.
void check_identity(const InjectRequest& req, int proc, int nsfd) {
  const std::string who = "pid " + std::to_string(req.pid);
  if (req.pid_start_time != 0) {
    std::optional<std::uint64_t> t = process_start_time(req.pid, proc);
    if (!t) throw SysError("openat", "/proc/" + std::to_string(req.pid) + "/stat", ENOENT);
    if (*t != req.pid_start_time) throw SysError("inject", who, "exited and was reused");
  }
  if (req.mnt_ns != 0) {
    struct stat st {};
    if (::fstat(nsfd, &st) != 0) throw SysError("fstat", "mnt namespace", errno);
    if (st.st_ino != req.mnt_ns) {
      throw SysError("inject", who, "is in another mount namespace than the one recorded");
    }
  }
}

// A source cloned in the caller's namespace, to be moved into the container's.
struct Source {
  UniqueFd tree;
  dev_t dev = 0;  // the device of its filesystem: for FUSE, one per connection
};

Source clone_source(int dirfd, const std::string& path) {
  int t = ::open_tree(dirfd, path.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  if (t < 0) throw SysError("open_tree", path, errno);
  Source s{UniqueFd(t)};
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
  if (::mount_setattr(t, "", AT_EMPTY_PATH, &attr, sizeof attr) != 0) {
    throw SysError("mount_setattr", path, errno);
  }
  struct statx stx {};
  if (::statx(t, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, 0, &stx) != 0) {
    throw SysError("statx", path, errno);
  }
  s.dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
  return s;
}

// An optional file whose source is absent gets an empty Source (skipped later).
std::vector<Source> clone_sources(const InjectRequest& req) {
  std::vector<Source> out;
  for (const InjectFile& f : req.files) {
    if (f.optional && ::faccessat(req.source_dirfd, f.source.c_str(), F_OK, 0) != 0 &&
        errno == ENOENT) {
      out.emplace_back();
      continue;
    }
    out.push_back(clone_source(req.source_dirfd, f.source));
  }
  return out;
}

// Enters a mount namespace for the lifetime of the object and returns to the
// caller's own on destruction (also on the exception path).
class NsGuard {
 public:
  explicit NsGuard(int target_ns) : self_(open_at(AT_FDCWD, "/proc/self/ns/mnt", O_RDONLY)) {
    if (::setns(target_ns, CLONE_NEWNS) != 0) throw SysError("setns", "mnt", errno);
  }
  NsGuard(const NsGuard&) = delete;
  NsGuard& operator=(const NsGuard&) = delete;
  ~NsGuard() {
    // Failing to return would leave later code in the container's tree; there
    // is no safe way on from there.
    if (::setns(self_.get(), CLONE_NEWNS) != 0) ::abort();
  }

 private:
  UniqueFd self_;
};

std::string join_path(const std::string& root, const std::string& rel) {
  if (root == "/") return "/" + rel;
  return root + "/" + rel;
}

// Resolves target inside rootfd without following any symlink. On failure,
// sets *reason and returns an empty fd.
UniqueFd resolve_target(int rootfd, const std::string& target, std::string* reason) {
  open_how how{};
  how.flags = O_PATH | O_CLOEXEC | O_NOFOLLOW;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  int fd = retry_eintr([&] { return sys_openat2(rootfd, target.c_str(), how); });
  if (fd >= 0) return UniqueFd(fd);
  int e = errno;
  if (e == ELOOP) {
    *reason = "a path component is a symlink in the container's rootfs (links are not followed)";
  } else if (e == ENOENT) {
    *reason = "does not exist in the container's rootfs";
  } else if (e == EXDEV) {
    *reason = "resolves outside the container's rootfs";
  } else {
    *reason = std::string("cannot resolve: ") + std::strerror(e);
  }
  return UniqueFd();
}

// Checks without sending any FUSE request (a hung daemon could block
// fstatfs): mount id from statx(AT_STATX_DONT_SYNC), which answers from the
// inode even for a dead or hung FUSE daemon, and the rest from mountinfo.
// *dev, when given, gets the device of the target's filesystem.
const MountInfo* mount_of(int fd, const Mounts& mounts, dev_t* dev = nullptr) {
  struct statx stx {};
  if (::statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_MNT_ID, &stx) != 0 ||
      !(stx.stx_mask & STATX_MNT_ID)) {
    return nullptr;
  }
  if (dev) *dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
  return find_mount(mounts, stx.stx_mnt_id);
}

// The mount a fresh file would land on must be procfs or sysfs and private.
std::string check_host_mount(const MountInfo& m) {
  if (m.fstype != "proc" && m.fstype != "sysfs") {
    return "is on " + m.fstype + ", not procfs/sysfs";
  }
  if (m.shared()) {
    return "its mount is shared (rootfsPropagation shared?): a mount would propagate out of "
           "the container";
  }
  return "";
}

// Returns the reason this target must not be mounted on, or "".
std::string check_target(int fd, const Mounts& mounts) {
  const MountInfo* m = mount_of(fd, mounts);
  if (!m) return "cannot identify the mount it is on";
  if (on_fuse(*m)) return "already carries a FUSE mount (" + m->fstype + "): not stacking another";
  std::string reason = check_host_mount(*m);
  if (!reason.empty()) return reason;
  struct statfs sfs {};
  if (::fstatfs(fd, &sfs) != 0) return std::string("fstatfs: ") + std::strerror(errno);
  if (sfs.f_type != PROC_SUPER_MAGIC && sfs.f_type != SYSFS_MAGIC) {
    return "is not on procfs/sysfs (statfs)";
  }
  return "";
}

// What happens to one target.
enum class Action {
  kSkip,     // Decision::reason says why
  kMount,    // a first mount
  kReplace,  // in place of a stale or older vprocd mount (replace mode)
};

struct Decision {
  Action action = Action::kSkip;
  std::string reason;
};

Decision skip(std::string reason) { return {Action::kSkip, std::move(reason)}; }

// Replace mode, a target whose top mount is a FUSE mount.
Decision decide_fuse_target(int tfd, const Mounts& mounts, dev_t source_dev) {
  dev_t dev = 0;
  const MountInfo* m = mount_of(tfd, mounts, &dev);
  if (!m) return skip("cannot identify the mount it is on");
  if (m->fstype != kOwnFsType) {
    return skip("already carries a FUSE mount (" + m->fstype + ") that is not vprocd's");
  }
  if (dev == source_dev) return skip(kAlreadyAttached);
  // The fresh file goes onto whatever the old one covers: that must pass the
  // same checks as a first mount.
  const MountInfo* under = find_mount(mounts, m->parent);
  if (!under) return skip("cannot identify the mount under the old vprocd file");
  std::string reason = check_host_mount(*under);
  if (!reason.empty()) return skip(std::move(reason));
  return {Action::kReplace, ""};
}

Decision decide(int tfd, const Mounts& mounts, dev_t source_dev, bool replace) {
  if (replace) {
    const MountInfo* m = mount_of(tfd, mounts);
    if (m && on_fuse(*m)) return decide_fuse_target(tfd, mounts, source_dev);
  }
  std::string reason = check_target(tfd, mounts);
  if (!reason.empty()) return skip(std::move(reason));
  return {Action::kMount, ""};
}

void move_onto(int tree, int tfd, const std::string& path) {
  if (::move_mount(tree, "", tfd, "", kMoveEmpty) != 0) throw SysError("move_mount", path, errno);
}

// Linux >= 6.5: mounts tree beneath the top mount on tfd. False when the
// kernel refuses the flag (EINVAL).
bool move_beneath(int tree, int tfd, const std::string& path) {
  if (!kernel_has_move_beneath()) return false;
  if (::move_mount(tree, "", tfd, "", kMoveEmpty | kMoveMountBeneath) == 0) return true;
  if (errno != EINVAL) throw SysError("move_mount beneath", path, errno);
  return false;
}

// Detaches the mount whose root tfd is, without a path lookup in the
// container's tree (where a process could swap a path component): the
// magic link /proc/self/fd/N of the caller's own procfs names exactly that
// mount, and umount2 accepts it because the mount belongs to the namespace
// the caller is in now.
void detach_by_fd(int host_proc, int tfd) {
  if (::fchdir(host_proc) != 0) throw SysError("fchdir", "/proc", errno);
  std::string link = "self/fd/" + std::to_string(tfd);
  int r = ::umount2(link.c_str(), MNT_DETACH);
  int e = errno;
  if (::chdir("/") != 0) ::abort();  // never keep a cwd in the host's procfs
  if (r != 0) throw SysError("umount2", "old vprocd mount", e);
}

void detach(const std::string& rootfs, const std::string& target) {
  std::string path = join_path(rootfs, target);
  ::umount2(path.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW);
}

// One inject_files call, inside the container's namespace.
struct Run {
  const InjectRequest& req;
  Mounts mounts;  // the container's, read before entering it (and after the CPU directory)
  int proc;       // the host's /proc, for detach_by_fd
  const std::function<void(const InjectOutcome&)>& on_mounted;
  std::vector<std::string> first_mounts = {};  // what rollback() undoes
};

// The fresh file takes the stale one's place. With MOVE_MOUNT_BENEATH it goes
// under the old one, and detaching the old one uncovers it in one step: no
// reader ever sees the host's file. Older kernels detach first and mount on
// what was under (it passed decide_fuse_target's checks), so the host's file
// shows in between. Returns a skip reason when the target is gone by then.
std::string replace_mount(const Run& run, int rootfd, const std::string& target, int tree,
                          UniqueFd tfd) {
  const std::string path = join_path(run.req.rootfs, target);
  bool beneath = move_beneath(tree, tfd.get(), path);
  detach_by_fd(run.proc, tfd.get());
  if (beneath) return "";
  std::string reason;
  tfd = resolve_target(rootfd, target, &reason);
  if (tfd) move_onto(tree, tfd.get(), path);
  return reason;
}

InjectOutcome inject_one(Run& run, int rootfd, const std::string& target, const Source& src) {
  InjectOutcome o;
  o.target = target;
  if (!src.tree) {
    o.reason = "vprocd does not serve it (the host has no PSI)";
    return o;
  }
  UniqueFd tfd = resolve_target(rootfd, target, &o.reason);
  if (!tfd) return o;
  Decision d = decide(tfd.get(), run.mounts, src.dev, run.req.replace);
  switch (d.action) {
    case Action::kSkip:
      o.reason = std::move(d.reason);
      return o;
    case Action::kMount:
      move_onto(src.tree.get(), tfd.get(), join_path(run.req.rootfs, target));
      run.first_mounts.push_back(target);
      break;
    case Action::kReplace:
      o.reason = replace_mount(run, rootfd, target, src.tree.get(), std::move(tfd));
      if (!o.reason.empty()) return o;
      o.replaced = true;
      break;
  }
  o.status = InjectStatus::kMounted;
  if (run.on_mounted) run.on_mounted(o);
  return o;
}

// Only first mounts are undone: a replaced file stays replaced (the old one
// served a dead or departing daemon).
void rollback(const Run& run) {
  for (auto it = run.first_mounts.rbegin(); it != run.first_mounts.rend(); ++it) {
    detach(run.req.rootfs, *it);
  }
}

// True when target resolves and its top mount is ours: a FUSE mount or the
// CPU directory's tmpfs.
bool carries_ours(int rootfd, const std::string& target, const Mounts& mounts) {
  std::string reason;
  UniqueFd tfd = resolve_target(rootfd, target, &reason);
  if (!tfd) return false;
  const MountInfo* m = mount_of(tfd.get(), mounts);
  return m && (on_fuse(*m) || is_cpu_dir(*m));
}

// The container's own CPU directory (InjectRequest::cpu_dir).

bool wants_cpu_dir(const InjectRequest& req) {
  if (!req.cpu_dir) return false;
  return std::any_of(req.files.begin(), req.files.end(),
                     [](const InjectFile& f) { return in_cpu_dir(f.target); });
}

// One entry of the container's sysfs CPU directory that the view keeps.
struct CpuDirEntry {
  std::string name;
  unsigned char type = DT_UNKNOWN;
  std::string link;  // a symlink's target
  UniqueFd tree;     // anything else: a clone of it with the mounts beneath
};

unsigned char entry_type(int dfd, const dirent& d) {
  if (d.d_type != DT_UNKNOWN) return d.d_type;
  struct stat st {};
  if (::fstatat(dfd, d.d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) return DT_UNKNOWN;
  if (S_ISDIR(st.st_mode)) return DT_DIR;
  if (S_ISLNK(st.st_mode)) return DT_LNK;
  return DT_REG;
}

CpuDirEntry clone_entry(int dfd, const dirent& d) {
  CpuDirEntry e;
  e.name = d.d_name;
  e.type = entry_type(dfd, d);
  if (e.type == DT_LNK) {
    char buf[4096];
    ssize_t n = ::readlinkat(dfd, d.d_name, buf, sizeof buf - 1);
    if (n < 0) throw SysError("readlinkat", e.name, errno);
    e.link.assign(buf, static_cast<size_t>(n));
    return e;
  }
  int t = ::open_tree(dfd, d.d_name,
                      OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_SYMLINK_NOFOLLOW);
  if (t < 0) throw SysError("open_tree", std::string(kCpuDirTarget) + "/" + e.name, errno);
  e.tree = UniqueFd(t);
  return e;
}

// The entries the view keeps, cloned from the directory dfd (the container's).
std::vector<CpuDirEntry> clone_cpu_dir(int dfd, const std::vector<int>& cpus) {
  UniqueFd list = open_at(dfd, ".", O_RDONLY | O_DIRECTORY, kCpuDirTarget);
  DIR* dir = ::fdopendir(list.get());
  if (!dir) throw SysError("fdopendir", kCpuDirTarget, errno);
  list.release();
  std::vector<CpuDirEntry> out;
  try {
    while (const dirent* d = ::readdir(dir)) {
      std::string_view name = d->d_name;
      if (name == "." || name == ".." || !cpu_dir_keeps(name, cpus)) continue;
      out.push_back(clone_entry(::dirfd(dir), *d));
    }
  } catch (...) {
    ::closedir(dir);
    throw;
  }
  ::closedir(dir);
  return out;
}

void fs_config(int fs, const char* key, const char* value) {
  if (::fsconfig(fs, FSCONFIG_SET_STRING, key, value, 0) != 0) {
    throw SysError("fsconfig", std::string("tmpfs ") + key, errno);
  }
}

// A detached read-only tmpfs holding an empty mountpoint (or the symlink) for
// every entry.
UniqueFd make_cpu_dir(const std::vector<CpuDirEntry>& entries) {
  UniqueFd fs(::fsopen("tmpfs", FSOPEN_CLOEXEC));
  if (!fs) throw SysError("fsopen", "tmpfs", errno);
  fs_config(fs.get(), "source", kCpuDirSource);
  fs_config(fs.get(), "mode", "0755");
  fs_config(fs.get(), "size", "64k");
  if (::fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) {
    throw SysError("fsconfig", "tmpfs create", errno);
  }
  int m = ::fsmount(fs.get(), FSMOUNT_CLOEXEC,
                    MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
  if (m < 0) throw SysError("fsmount", "tmpfs", errno);
  UniqueFd root(m);
  for (const CpuDirEntry& e : entries) {
    int r = 0;
    if (e.type == DT_LNK) {
      r = ::symlinkat(e.link.c_str(), root.get(), e.name.c_str());
    } else if (e.type == DT_DIR) {
      r = ::mkdirat(root.get(), e.name.c_str(), 0755);
    } else {
      r = ::mknodat(root.get(), e.name.c_str(), S_IFREG | 0444, 0);
    }
    if (r != 0) throw SysError("create", std::string(kCpuDirSource) + "/" + e.name, errno);
  }
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_RDONLY;
  if (::mount_setattr(root.get(), "", AT_EMPTY_PATH, &attr, sizeof attr) != 0) {
    throw SysError("mount_setattr", kCpuDirSource, errno);
  }
  return root;
}

// Skips (with the reason) when the directory is missing, is already a view,
// or sits on a mount a first mount may not go onto.
InjectOutcome give_cpu_dir(Run& run, int rootfd) {
  InjectOutcome o;
  o.target = kCpuDirTarget;
  UniqueFd dfd = resolve_target(rootfd, kCpuDirTarget, &o.reason);
  if (!dfd) return o;
  const MountInfo* m = mount_of(dfd.get(), run.mounts);
  if (!m) {
    o.reason = "cannot identify the mount it is on";
    return o;
  }
  if (is_cpu_dir(*m)) {
    // Replace mode counts it with the files this vprocd already serves.
    o.reason = run.req.replace ? kAlreadyAttached : "already the container's own CPU directory";
    return o;
  }
  o.reason = check_host_mount(*m);
  if (!o.reason.empty()) return o;
  // Cloned before the tmpfs covers them; the tmpfs is filled while detached,
  // so no process in the container sees it half made.
  std::vector<CpuDirEntry> entries = clone_cpu_dir(dfd.get(), *run.req.cpu_dir);
  UniqueFd view = make_cpu_dir(entries);
  const std::string path = join_path(run.req.rootfs, kCpuDirTarget);
  move_onto(view.get(), dfd.get(), path);
  run.first_mounts.push_back(kCpuDirTarget);
  for (const CpuDirEntry& e : entries) {
    if (!e.tree) continue;
    if (::move_mount(e.tree.get(), "", view.get(), e.name.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0) {
      throw SysError("move_mount", path + "/" + e.name, errno);
    }
  }
  o.status = InjectStatus::kMounted;
  if (run.on_mounted) run.on_mounted(o);
  return o;
}

}  // namespace

bool cpu_dir_keeps(std::string_view name, const std::vector<int>& cpus) {
  if (name.size() <= 3 || name.substr(0, 3) != "cpu") return true;
  std::string_view digits = name.substr(3);
  if (digits.find_first_not_of("0123456789") != std::string_view::npos) return true;
  auto n = parse_u64(digits);
  return n && std::find(cpus.begin(), cpus.end(), static_cast<long long>(*n)) != cpus.end();
}

std::vector<InjectOutcome> inject_files(
    const InjectRequest& req, const std::function<void(const InjectOutcome&)>& on_mounted) {
  if (req.rootfs.empty() || req.rootfs[0] != '/') {
    throw SysError("inject", req.rootfs, "rootfs must be an absolute path");
  }
  // Everything that needs the caller's namespace happens first: the host's
  // /proc (host_proc() opens it on first use and keeps it), the container's
  // namespace fd and mount table, its identity, and the cloned sources.
  const int proc = host_proc();
  UniqueFd nsfd = open_mount_ns(req.pid, proc);
  const Mounts mounts = read_mounts(proc, req.pid);
  check_identity(req, proc, nsfd.get());
  const std::vector<Source> sources = clone_sources(req);

  NsGuard ns(nsfd.get());
  Run run{req, mounts, proc, on_mounted};
  try {
    UniqueFd rootfd = open_at(AT_FDCWD, req.rootfs, O_PATH | O_DIRECTORY, req.rootfs);
    std::vector<InjectOutcome> out;
    if (wants_cpu_dir(req)) {
      out.push_back(give_cpu_dir(run, rootfd.get()));
      if (out.back().status == InjectStatus::kMounted) run.mounts = read_mounts(proc, req.pid);
    }
    for (size_t i = 0; i < req.files.size(); ++i) {
      out.push_back(inject_one(run, rootfd.get(), req.files[i].target, sources[i]));
    }
    return out;
  } catch (...) {
    rollback(run);
    throw;
  }
}

std::vector<std::string> undo_mounts(pid_t pid, const std::string& rootfs,
                                     const std::vector<std::string>& targets) {
  const int proc = host_proc();
  UniqueFd nsfd = open_mount_ns(pid, proc);
  const Mounts mounts = read_mounts(proc, pid);
  std::vector<std::string> done;
  NsGuard ns(nsfd.get());
  UniqueFd rootfd = open_at(AT_FDCWD, rootfs, O_PATH | O_DIRECTORY, rootfs);
  for (auto it = targets.rbegin(); it != targets.rend(); ++it) {
    if (!carries_ours(rootfd.get(), *it, mounts)) continue;
    detach(rootfs, *it);
    done.push_back(*it);
  }
  return done;
}

// MOVE_MOUNT_BENEATH came with Linux 6.5. An older kernel answers EINVAL,
// which other refusals share, so the release decides.
bool kernel_has_move_beneath() {
  static const bool has = [] {
    utsname u{};
    if (::uname(&u) != 0) return false;
    unsigned major = 0, minor = 0;
    if (std::sscanf(u.release, "%u.%u", &major, &minor) != 2) return false;
    return major > 6 || (major == 6 && minor >= 5);
  }();
  return has;
}

UniqueFd open_in_root(int rootfd, const std::string& target, std::string* reason) {
  return resolve_target(rootfd, target, reason);
}

bool is_fuse_file(const std::string& path) {
  struct statfs sfs {};
  if (::statfs(path.c_str(), &sfs) != 0) return false;
  return sfs.f_type == kFuseSuperMagic;
}

}  // namespace vproc
