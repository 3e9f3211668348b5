#include "fsd/mountpoint.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include "lib/base/io.h"
#include "lib/base/log.h"
#include "lib/base/sys_error.h"
#include "lib/inject/mountinfo.h"

namespace vproc {

namespace {

// The filesystem type of the top mount at dir, or "" when dir is no mountpoint.
std::string mount_type_at(const std::string& dir) {
  std::string text = read_file_at(AT_FDCWD, "/proc/self/mountinfo").value_or("");
  std::string type;
  for (const MountInfo& m : parse_mountinfo(text)) {
    if (m.mount_point == dir) type = m.fstype;  // later lines are mounted on top
  }
  return type;
}

// Asks the FUSE daemon behind dir for statfs (never answered from a cache, so
// it reaches the daemon) in a child, so that a hung daemon cannot hang us.
// Returns the child's errno: 0 when the daemon answered, ENOTCONN when it is
// dead, ETIMEDOUT when it did not answer within two seconds.
int probe_fuse(const std::string& dir) {
  pid_t pid = ::fork();
  if (pid < 0) return errno;
  if (pid == 0) {
    struct statfs sf;
    ::_exit(::statfs(dir.c_str(), &sf) == 0 ? 0 : (errno & 0xff));
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : EIO;
    if (r < 0 && errno != EINTR) return errno;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);  // FUSE waits are killable
      ::waitpid(pid, &status, 0);
      return ETIMEDOUT;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void detach_stale(const std::string& dir) {
  // A vprocd died without unmounting. Detach the dead mount; containers that
  // still bind it keep their (dead) copy until re-attached.
  if (::umount2(dir.c_str(), MNT_DETACH) != 0) throw SysError("umount stale", dir, errno);
  log_line("vprocd: recovered stale mountpoint " + dir + " (a previous vprocd died)");
}

}  // namespace

MountpointState prepare_mountpoint(const std::string& dir, bool allow_live) {
  if (dir.empty() || dir[0] != '/') throw SysError("mountpoint", dir, "must be an absolute path");
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno == ENOTCONN || errno == ECONNABORTED) {
      detach_stale(dir);
      // several stale layers can stack up; peel them all
      return prepare_mountpoint(dir, allow_live);
    }
    if (errno != ENOENT) throw SysError("stat", dir, errno);
    std::string partial;
    for (size_t pos = 1; pos != std::string::npos;) {
      pos = dir.find('/', pos + 1);
      partial = dir.substr(0, pos);
      if (::mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST) {
        throw SysError("mkdir", partial, errno);
      }
    }
    return MountpointState::kFree;
  }
  if (!S_ISDIR(st.st_mode)) throw SysError("mountpoint", dir, ENOTDIR);
  std::string type = mount_type_at(dir);
  if (type.rfind("fuse", 0) != 0) return MountpointState::kFree;
  // stat() may have been answered from the kernel's attribute cache: ask the
  // daemon itself.
  int probe = probe_fuse(dir);
  if (probe == ENOTCONN || probe == ECONNABORTED) {
    detach_stale(dir);
    return prepare_mountpoint(dir, allow_live);
  }
  if (probe == 0 && allow_live) {
    if (type != "fuse.vprocd") {
      throw SysError("mountpoint", dir,
                     "busy: " + type + " is mounted there, not a vprocd to take over from");
    }
    return MountpointState::kLive;
  }
  throw SysError("mountpoint", dir,
                 "busy: a " + std::string(probe == ETIMEDOUT ? "hung" : "live") +
                     " FUSE filesystem (" + type + ") is mounted there; is another vprocd " +
                     "running? (--takeover replaces a live vprocd without failing its readers)");
}

}  // namespace vproc
