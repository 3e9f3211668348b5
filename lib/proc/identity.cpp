#include "lib/proc/identity.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <string>

#include "lib/base/io.h"
#include "lib/base/sys_error.h"
#include "lib/core/parse.h"

namespace vproc {

int host_proc() {
  static const UniqueFd fd = open_at(AT_FDCWD, "/proc", O_PATH | O_DIRECTORY);
  return fd.get();
}

std::optional<std::uint64_t> parse_start_time(std::string_view line) {
  auto s = core::try_parse_pid_stat(line);
  if (!s) return std::nullopt;
  return s->starttime;
}

std::optional<std::uint64_t> process_start_time(int pid, int proc_root) {
  if (pid <= 0 || pid > kMaxPid) return std::nullopt;
  std::string rel = std::to_string(pid) + "/stat";
  auto text = read_file_at(proc_root, rel, "/proc/" + rel);
  if (!text) return std::nullopt;
  auto t = parse_start_time(*text);
  if (!t) throw SysError("parse", "/proc/" + rel, "no start time");
  return t;
}

std::optional<std::uint64_t> mount_ns_inode(int pid, int proc_root) {
  if (pid <= 0 || pid > kMaxPid) return std::nullopt;
  struct stat st {};
  std::string rel = std::to_string(pid) + "/ns/mnt";
  if (::fstatat(proc_root, rel.c_str(), &st, 0) != 0) {
    if (errno == ENOENT || errno == ESRCH) return std::nullopt;
    throw SysError("stat", "/proc/" + rel, errno);
  }
  return st.st_ino;
}

UniqueFd open_mount_ns(int pid, int proc_root) {
  std::string rel = std::to_string(pid) + "/ns/mnt";
  return open_at(proc_root, rel, O_RDONLY, "/proc/" + rel);
}

std::optional<ProcessIdentity> identify(int pid, int proc_root) {
  auto start = process_start_time(pid, proc_root);
  if (!start) return std::nullopt;
  auto ns = mount_ns_inode(pid, proc_root);
  if (!ns) return std::nullopt;
  return ProcessIdentity{*start, *ns};
}

bool same_process(int pid, std::uint64_t start_time, std::uint64_t mnt_ns, int proc_root) {
  try {
    auto t = process_start_time(pid, proc_root);
    if (!t || *t != start_time) return false;
    if (mnt_ns == 0) return true;
    auto ns = mount_ns_inode(pid, proc_root);
    return ns && *ns == mnt_ns;
  } catch (const SysError&) {
    return false;  // unreadable: not provably the same process
  }
}

std::uint64_t init_mount_ns(int proc_root) {
  struct stat st {};
  if (::fstatat(proc_root, "1/ns/mnt", &st, 0) != 0) return 0;
  return st.st_ino;
}

bool is_host_mount_ns(std::uint64_t ns, int proc_root) {
  std::optional<std::uint64_t> own = mount_ns_inode(::getpid(), proc_root);
  if (!own) return true;  // nothing could be told apart from the host
  std::uint64_t init = init_mount_ns(proc_root);
  return ns == *own || (init != 0 && ns == init);
}

}  // namespace vproc
