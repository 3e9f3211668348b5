#include "common/mount_inject.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <sstream>

#include "common/io.h"
#include "common/sys_error.h"
#include "common/unique_fd.h"

namespace vproc {

namespace {

constexpr long kFuseSuperMagic = 0x65735546;

// glibc 2.36 has no openat2 wrapper.
int sys_openat2(int dirfd, const char* path, const open_how& how) {
  return static_cast<int>(::syscall(SYS_openat2, dirfd, path, &how, sizeof how));
}

struct MountInfo {
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
std::optional<MountInfo> mount_of(int fd, const std::string& mountinfo) {
  struct statx stx {};
  if (::statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_MNT_ID, &stx) != 0 ||
      !(stx.stx_mask & STATX_MNT_ID)) {
    return std::nullopt;
  }
  return find_mount(mountinfo, stx.stx_mnt_id);
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
  std::vector<UniqueFd> trees;
  for (const InjectFile& f : req.files) {
    int t = ::open_tree(AT_FDCWD, f.source.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (t < 0) throw SysError("open_tree", f.source, errno);
    trees.emplace_back(t);
    mount_attr attr{};
    attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
    if (::mount_setattr(t, "", AT_EMPTY_PATH, &attr, sizeof attr) != 0) {
      throw SysError("mount_setattr", f.source, errno);
    }
  }

  std::vector<InjectOutcome> out;
  std::vector<std::string> mounted;
  NsGuard ns(nsfd.get());
  try {
    UniqueFd rootfd = open_at(AT_FDCWD, req.rootfs, O_PATH | O_DIRECTORY, req.rootfs);
    for (size_t i = 0; i < req.files.size(); ++i) {
      InjectOutcome o;
      o.target = req.files[i].target;
      UniqueFd tfd = resolve_target(rootfd.get(), o.target, &o.reason);
      if (tfd) o.reason = check_target(tfd.get(), mountinfo);
      if (o.reason.empty()) {
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

bool is_fuse_file(const std::string& path) {
  struct statfs sfs {};
  if (::statfs(path.c_str(), &sfs) != 0) return false;
  return sfs.f_type == kFuseSuperMagic;
}

}  // namespace vproc
