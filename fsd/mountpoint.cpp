#include "fsd/mountpoint.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "common/log.h"
#include "common/sys_error.h"

namespace vproc {

namespace {

// The filesystem type of the top mount at dir, or "" when dir is no mountpoint.
std::string mount_type_at(const std::string& dir) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line, type;
  while (std::getline(in, line)) {
    std::istringstream ss(line);
    std::string id, parent, devno, root, mp, opts, field;
    ss >> id >> parent >> devno >> root >> mp >> opts;
    while (ss >> field && field != "-") {
    }
    std::string fstype;
    ss >> fstype;
    if (mp == dir) type = fstype;  // later lines are mounted on top
  }
  return type;
}

}  // namespace

void prepare_mountpoint(const std::string& dir) {
  if (dir.empty() || dir[0] != '/') throw SysError("mountpoint", dir, "must be an absolute path");
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno == ENOTCONN || errno == ECONNABORTED) {
      // A vprocd died without unmounting. Detach the dead mount; containers
      // that still bind it keep their (dead) copy until re-attached.
      if (::umount2(dir.c_str(), MNT_DETACH) != 0) throw SysError("umount stale", dir, errno);
      log_line("vprocd: recovered stale mountpoint " + dir + " (a previous vprocd died)");
      // Several stale layers can stack up; peel them all.
      prepare_mountpoint(dir);
      return;
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
    return;
  }
  if (!S_ISDIR(st.st_mode)) throw SysError("mountpoint", dir, ENOTDIR);
  std::string type = mount_type_at(dir);
  if (type.rfind("fuse", 0) == 0) {
    throw SysError("mountpoint", dir,
                   "busy: a live FUSE filesystem (" + type +
                       ") is mounted there; is another vprocd running?");
  }
}

}  // namespace vproc
