#include "fsd/takeover.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "lib/base/io.h"
#include "lib/base/sys_error.h"
#include "lib/registry/registry.h"

namespace vproc {

std::string pid_record_path(const std::string& registry_dir) {
  return registry_dir + "/vprocd.pid";
}

void write_pid_record(const std::string& registry_dir, const std::string& mountpoint) {
  if (::mkdir(registry_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    throw SysError("mkdir", registry_dir, errno);
  }
  auto start = process_start_time(::getpid());
  if (!start) throw SysError("parse", "/proc/self/stat", "no start time");
  std::string text =
      std::to_string(::getpid()) + " " + std::to_string(*start) + " " + mountpoint + "\n";
  std::string path = pid_record_path(registry_dir);
  replace_file(path, path + ".tmp." + std::to_string(::getpid()), text, 0644);
}

std::optional<PidRecord> read_pid_record(const std::string& registry_dir) {
  auto text = read_file_at(AT_FDCWD, pid_record_path(registry_dir));
  if (!text) return std::nullopt;
  std::istringstream in(*text);
  std::string pid, start;
  PidRecord r;
  if (!(in >> pid >> start) || !std::getline(in >> std::ws, r.mountpoint)) return std::nullopt;
  auto p = parse_u64(pid);
  auto s = parse_u64(start);
  if (!p || !s || *p == 0 || *p > static_cast<unsigned long long>(kMaxPid)) return std::nullopt;
  r.pid = static_cast<pid_t>(*p);
  r.start_time = *s;
  return r;
}

std::uint64_t mount_id_at(int dirfd, const std::string& path) {
  struct statx stx {};
  int flags = AT_STATX_DONT_SYNC | AT_SYMLINK_NOFOLLOW | (path.empty() ? AT_EMPTY_PATH : 0);
  if (::statx(dirfd, path.c_str(), flags, STATX_MNT_ID, &stx) != 0) {
    throw SysError("statx", path.empty() ? "fd" : path, errno);
  }
  if (!(stx.stx_mask & STATX_MNT_ID)) throw SysError("statx", path, "no mount id");
  return stx.stx_mnt_id;
}

void notify_service_manager(const std::string& message) {
  const char* env = std::getenv("NOTIFY_SOCKET");
  if (!env || !*env) return;
  std::string name = env;
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (name.size() >= sizeof sa.sun_path) return;
  std::memcpy(sa.sun_path, name.data(), name.size());
  if (name[0] == '@') sa.sun_path[0] = '\0';  // abstract socket
  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) return;
  auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
  ::sendto(fd.get(), message.data(), message.size(), MSG_NOSIGNAL,
           reinterpret_cast<const sockaddr*>(&sa), len);
}

bool signal_recorded(const PidRecord& rec, int sig) {
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, rec.pid, 0));
  if (pidfd < 0) return false;
  UniqueFd guard(pidfd);
  // The pidfd pins this process: if the start time matches now, the signal
  // below cannot reach a newcomer that took over the pid.
  if (!same_process(rec.pid, rec.start_time, /*mnt_ns=*/0)) return false;
  return ::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) == 0;
}

}  // namespace vproc
