#include "lib/inject/mount_inject.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <sstream>

#include "lib/base/io.h"
#include "lib/base/sys_error.h"
#include "lib/base/unique_fd.h"

namespace vproc {

namespace {

constexpr long kFuseSuperMagic = 0x65735546;
// vprocd mounts with subtype=vprocd; another FUSE filesystem (lxcfs) on a
// target is never replaced.
constexpr const char* kOwnFsType = "fuse.vprocd";

// glibc 2.36 has no openat2 wrapper.
int sys_openat2(int dirfd, const char* path, const open_how& how) {
  return static_cast<int>(::syscall(SYS_openat2, dirfd, path, &how, sizeof how));
}

struct MountInfo {
  unsigned long long parent = 0;
  std::string fstype;
  bool shared = false;
};

// One line of /proc/PID/mountinfo:
// "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 shared:2 - ext3 /dev/root rw"
std::optional<MountInfo> find_mount(const std::string& mountinfo, unsigned long long id) {
  std::istringstream in(mountinfo);
  std::string line;
  const std::string want = std::to_string(id) + " ";
  while (std::getline(in, line)) {
    if (line.compare(0, want.size(), want) != 0) continue;
    size_t sep = line.find(" - ");
    if (sep == std::string::npos) return std::nullopt;
    MountInfo m;
    m.shared = line.substr(0, sep).find(" shared:") != std::string::npos;
    std::istringstream head(line);
    unsigned long long self_id = 0;
    head >> self_id >> m.parent;
    std::istringstream rest(line.substr(sep + 3));
    rest >> m.fstype;
    return m;
  }
  return std::nullopt;
}

std::string read_mountinfo(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/mountinfo";
  UniqueFd fd = open_at(AT_FDCWD, path, O_RDONLY);
  return pread_all(fd.get(), path);
}

// Field 22 of /proc/PID/stat (counted after the last ')', comm may hold any byte).
unsigned long long start_time(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/stat";
  UniqueFd fd = open_at(AT_FDCWD, path, O_RDONLY);
  std::string text = pread_all(fd.get(), path);
  size_t rp = text.rfind(')');
  std::istringstream in(rp == std::string::npos ? std::string() : text.substr(rp + 1));
  std::string tok;
  for (int field = 3; in >> tok; ++field) {
    if (field == 22) {
      if (auto v = parse_u64(tok)) return *v;
      break;
    }
  }
  throw SysError("parse", path, "no start time");
}

UniqueFd open_ns(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/ns/mnt";
  return open_at(AT_FDCWD, path, O_RDONLY);
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
// fstatfs): mount id from statx(AT_STATX_DONT_SYNC), fstype from mountinfo.
// (statx with AT_STATX_DONT_SYNC answers from the inode even for a dead or
// hung FUSE daemon.) *dev, when given, gets the device of the target's
// filesystem: for FUSE, one per connection.
std::optional<MountInfo> mount_of(int fd, const std::string& mountinfo, dev_t* dev = nullptr) {
  struct statx stx {};
  if (::statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_MNT_ID, &stx) != 0 ||
      !(stx.stx_mask & STATX_MNT_ID)) {
    return std::nullopt;
  }
  if (dev) *dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
  return find_mount(mountinfo, stx.stx_mnt_id);
}

// The mount a fresh file would land on must be procfs or sysfs and private.
std::string check_host_mount(const MountInfo& m) {
  if (m.fstype != "proc" && m.fstype != "sysfs") {
    return "is on " + m.fstype + ", not procfs/sysfs";
  }
  if (m.shared) {
    return "its mount is shared (rootfsPropagation shared?): a mount would propagate out of "
           "the container";
  }
  return "";
}

// Returns the reason this target must not be mounted on, or "".
std::string check_target(int fd, const std::string& mountinfo) {
  std::optional<MountInfo> m = mount_of(fd, mountinfo);
  if (!m) return "cannot identify the mount it is on";
  if (m->fstype.rfind("fuse", 0) == 0) {
    return "already carries a FUSE mount (" + m->fstype + "): not stacking another";
  }
  if (m->fstype != "proc" && m->fstype != "sysfs") {
    return "is on " + m->fstype + ", not procfs/sysfs";
  }
  if (m->shared) {
    return "its mount is shared (rootfsPropagation shared?): a mount would propagate out of "
           "the container";
  }
  struct statfs sfs {};
  if (::fstatfs(fd, &sfs) != 0) return std::string("fstatfs: ") + std::strerror(errno);
  if (sfs.f_type != PROC_SUPER_MAGIC && sfs.f_type != SYSFS_MAGIC) {
    return "is not on procfs/sysfs (statfs)";
  }
  return "";
}

void detach(const std::string& rootfs, const std::string& target) {
  std::string path = join_path(rootfs, target);
  ::umount2(path.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW);
}

// What replace mode does with a target whose top mount is a FUSE mount.
enum class Replace { kNo, kAlreadyOurs, kStale };

// Decides for a FUSE-mounted target in replace mode. *reason is set for kNo.
Replace classify_fuse_target(int tfd, const std::string& mountinfo, dev_t source_dev,
                             std::string* reason) {
  dev_t dev = 0;
  std::optional<MountInfo> m = mount_of(tfd, mountinfo, &dev);
  if (!m) {
    *reason = "cannot identify the mount it is on";
    return Replace::kNo;
  }
  if (m->fstype != kOwnFsType) {
    *reason = "already carries a FUSE mount (" + m->fstype + ") that is not vprocd's";
    return Replace::kNo;
  }
  if (dev == source_dev) return Replace::kAlreadyOurs;
  // The fresh file goes onto whatever the old one covers: that must pass the
  // same checks as a first mount.
  std::optional<MountInfo> under = find_mount(mountinfo, m->parent);
  if (!under) {
    *reason = "cannot identify the mount under the old vprocd file";
    return Replace::kNo;
  }
  *reason = check_host_mount(*under);
  return reason->empty() ? Replace::kStale : Replace::kNo;
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

}  // namespace

std::vector<InjectOutcome> inject_files(
    const InjectRequest& req, const std::function<void(const InjectOutcome&)>& on_mounted) {
  if (req.rootfs.empty() || req.rootfs[0] != '/') {
    throw SysError("inject", req.rootfs, "rootfs must be an absolute path");
  }
  // Everything that needs the caller's namespace happens first: the
  // container's mount table, its namespace fd, and the cloned sources.
  UniqueFd nsfd = open_ns(req.pid);
  std::string mountinfo = read_mountinfo(req.pid);
  if (req.pid_start_time != 0 && start_time(req.pid) != req.pid_start_time) {
    throw SysError("inject", "pid " + std::to_string(req.pid), "exited and was reused");
  }
  if (req.mnt_ns != 0) {
    struct stat st {};
    if (::fstat(nsfd.get(), &st) != 0) throw SysError("fstat", "mnt namespace", errno);
    if (st.st_ino != req.mnt_ns) {
      throw SysError("inject", "pid " + std::to_string(req.pid),
                     "is in another mount namespace than the one recorded");
    }
  }
  std::vector<UniqueFd> trees;
  std::vector<dev_t> source_devs;
  for (const InjectFile& f : req.files) {
    int t = ::open_tree(req.source_dirfd, f.source.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (t < 0) throw SysError("open_tree", f.source, errno);
    trees.emplace_back(t);
    mount_attr attr{};
    attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
    if (::mount_setattr(t, "", AT_EMPTY_PATH, &attr, sizeof attr) != 0) {
      throw SysError("mount_setattr", f.source, errno);
    }
    struct statx stx {};
    if (::statx(t, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, 0, &stx) != 0) {
      throw SysError("statx", f.source, errno);
    }
    source_devs.push_back(makedev(stx.stx_dev_major, stx.stx_dev_minor));
  }
  UniqueFd host_proc;
  if (req.replace) host_proc = open_at(AT_FDCWD, "/proc", O_PATH | O_DIRECTORY);

  std::vector<InjectOutcome> out;
  std::vector<std::string> mounted;
  NsGuard ns(nsfd.get());
  try {
    UniqueFd rootfd = open_at(AT_FDCWD, req.rootfs, O_PATH | O_DIRECTORY, req.rootfs);
    for (size_t i = 0; i < req.files.size(); ++i) {
      InjectOutcome o;
      o.target = req.files[i].target;
      UniqueFd tfd = resolve_target(rootfd.get(), o.target, &o.reason);
      Replace rep = Replace::kNo;
      if (tfd && req.replace) {
        std::optional<MountInfo> m = mount_of(tfd.get(), mountinfo);
        if (m && m->fstype.rfind("fuse", 0) == 0) {
          rep = classify_fuse_target(tfd.get(), mountinfo, source_devs[i], &o.reason);
          if (rep == Replace::kAlreadyOurs) o.reason = kAlreadyAttached;
        }
      }
      if (tfd && rep == Replace::kNo && o.reason.empty()) o.reason = check_target(tfd.get(), mountinfo);
      if (rep == Replace::kStale) {
        o.reason.clear();
        bool done = false;
        if (kernel_has_move_beneath()) {
          // The fresh file goes under the old one; detaching the old one then
          // uncovers it in one step: no reader ever sees the host's file.
          if (::move_mount(trees[i].get(), "", tfd.get(), "",
                           MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH | kMoveMountBeneath) ==
              0) {
            done = true;
          } else if (errno != EINVAL) {
            throw SysError("move_mount beneath", join_path(req.rootfs, o.target), errno);
          }
        }
        detach_by_fd(host_proc.get(), tfd.get());
        if (!done) {
          // Older kernels: the host's file shows until the move below. What
          // was under the old mount passed classify_fuse_target's checks.
          tfd = resolve_target(rootfd.get(), o.target, &o.reason);
          if (tfd &&
              ::move_mount(trees[i].get(), "", tfd.get(), "",
                           MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0) {
            throw SysError("move_mount", join_path(req.rootfs, o.target), errno);
          }
        }
        if (o.reason.empty()) {
          o.status = InjectStatus::kMounted;
          o.replaced = true;
          if (on_mounted) on_mounted(o);
        }
      } else if (o.reason.empty()) {
        if (::move_mount(trees[i].get(), "", tfd.get(), "",
                         MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0) {
          throw SysError("move_mount", join_path(req.rootfs, o.target), errno);
        }
        o.status = InjectStatus::kMounted;
        mounted.push_back(o.target);
        if (on_mounted) on_mounted(o);
      }
      out.push_back(o);
    }
  } catch (...) {
    // Only first mounts are undone: a replaced file stays replaced (the old
    // one served a dead or departing daemon).
    for (auto it = mounted.rbegin(); it != mounted.rend(); ++it) detach(req.rootfs, *it);
    throw;
  }
  return out;
}

std::vector<std::string> undo_mounts(pid_t pid, const std::string& rootfs,
                                     const std::vector<std::string>& targets) {
  UniqueFd nsfd = open_ns(pid);
  std::string mountinfo = read_mountinfo(pid);
  std::vector<std::string> done;
  NsGuard ns(nsfd.get());
  UniqueFd rootfd = open_at(AT_FDCWD, rootfs, O_PATH | O_DIRECTORY, rootfs);
  for (auto it = targets.rbegin(); it != targets.rend(); ++it) {
    std::string reason;
    UniqueFd tfd = resolve_target(rootfd.get(), *it, &reason);
    if (!tfd) continue;
    std::optional<MountInfo> m = mount_of(tfd.get(), mountinfo);
    if (!m || m->fstype.rfind("fuse", 0) != 0) continue;
    tfd.reset();
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


bool is_fuse_file(const std::string& path) {
  struct statfs sfs {};
  if (::statfs(path.c_str(), &sfs) != 0) return false;
  return sfs.f_type == kFuseSuperMagic;
}

}  // namespace vproc
