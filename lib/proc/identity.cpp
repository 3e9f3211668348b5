#include "lib/proc/identity.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <exception>
#include <string>

#include "lib/base/io.h"
#include "lib/base/sys_error.h"

namespace vproc {

int host_proc() {
  static const UniqueFd fd = open_at(AT_FDCWD, "/proc", O_PATH | O_DIRECTORY);
  return fd.get();
}

std::optional<std::uint64_t> parse_start_time(std::string_view line) {
  size_t rp = line.rfind(')');
  if (rp == std::string_view::npos) return std::nullopt;
  std::string_view rest = line.substr(rp + 1);
  // After ')' comes field 3 (state); starttime is field 22, i.e. the 20th token.
  int field = 2;
  while (!rest.empty()) {
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    if (rest.empty()) break;
    size_t sp = rest.find(' ');
    std::string_view tok = rest.substr(0, sp);
    if (++field == 22) return parse_u64(tok);
    if (sp == std::string_view::npos) break;
    rest.remove_prefix(sp);
  }
  return std::nullopt;
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

bool same_process(int pid, std::uint64_t start_time, std::uint64_t mnt_ns, int proc_root) {
  try {
    auto t = process_start_time(pid, proc_root);
    if (!t || *t != start_time) return false;
    if (mnt_ns == 0) return true;
    auto ns = mount_ns_inode(pid, proc_root);
    return ns && *ns == mnt_ns;
  } catch (const std::exception&) {
    return false;  // unreadable: not provably the same process
  }
}

}  // namespace vproc
