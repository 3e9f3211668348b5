#include "fsd/view/reader.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "lib/base/io.h"
#include "lib/base/sys_error.h"
#include "lib/cgroup/fd_cache.h"
#include "lib/core/parse.h"
#include "lib/core/text.h"

// linux/nsfs.h of Debian 12 predates these (Linux 6.7).
#ifndef NS_GET_TGID_FROM_PIDNS
#define NS_GET_TGID_FROM_PIDNS _IOR(0xb7, 0x7, int)
#endif
#ifndef NS_GET_PID_IN_PIDNS
#define NS_GET_PID_IN_PIDNS _IOR(0xb7, 0x8, int)
#endif

namespace vproc::view {

namespace {

std::string pid_file(pid_t pid, const char* file) { return std::to_string(pid) + "/" + file; }

ino_t ns_inode(int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return 0;
  return st.st_ino;
}

}  // namespace

std::string Reader::container_key() const {
  return std::to_string(init_pid) + "@" + std::to_string(init_start);
}

ReaderResolver::ReaderResolver(int proc_root) : proc_(proc_root) {
  struct stat st;
  if (::fstatat(proc_, "self/ns/pid", &st, 0) == 0) own_pidns_ = st.st_ino;
}

std::shared_ptr<UniqueFd> ReaderResolver::remembered(pid_t pid, Reader& r,
                                                     std::chrono::steady_clock::time_point now,
                                                     bool& done) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = known_.find(pid);
  if (it == known_.end()) return nullptr;
  Known& k = it->second;
  k.last_used = ++clock_;
  r.host_pidns = k.host_pidns;
  r.init_pid = k.init_pid;
  r.init_start = k.init_start;
  r.pidns = k.pidns;
  if (now - k.checked < kRecheckAfter) {
    r.cgroups = k.cgroups;
    done = true;
  }
  return k.cgroup;
}

bool ReaderResolver::recheck(pid_t pid, const std::shared_ptr<UniqueFd>& fd,
                             const cgroup::Layout& layout,
                             std::chrono::steady_clock::time_point now, Reader& r) const {
  std::string text;
  if (!pread_file(fd->get(), text, /*one_record=*/true)) {
    // ESRCH: that process is gone, and the pid may be another's now.
    std::lock_guard<std::mutex> lock(mu_);
    auto it = known_.find(pid);
    if (it != known_.end() && it->second.cgroup == fd) known_.erase(it);
    return false;
  }
  {
    // The same text as last time resolves the same way.
    std::lock_guard<std::mutex> lock(mu_);
    auto it = known_.find(pid);
    if (it != known_.end() && it->second.cgroup == fd && it->second.text == text) {
      it->second.checked = now;
      r.cgroups = it->second.cgroups;
      return true;
    }
  }
  r.cgroups = std::make_shared<const cgroup::ReaderCgroups>(
      cgroup::resolve(layout, core::parse_proc_cgroup(text, pid_file(pid, "cgroup"))));
  std::lock_guard<std::mutex> lock(mu_);
  auto it = known_.find(pid);
  if (it != known_.end() && it->second.cgroup == fd) {
    it->second.text = text;
    it->second.cgroups = r.cgroups;
    it->second.checked = now;
  }
  return true;
}

Reader ReaderResolver::resolve(pid_t pid, const cgroup::Layout& layout) const {
  Reader r;
  r.pid = pid;
  const auto now = std::chrono::steady_clock::now();
  bool done = false;
  if (std::shared_ptr<UniqueFd> known_fd = remembered(pid, r, now, done)) {
    if (done || recheck(pid, known_fd, layout, now, r)) return r;
    r = Reader{};
    r.pid = pid;
  }

  // A reader not seen before (or whose process is gone): resolved afresh.
  const std::string cgroup_file = pid_file(pid, "cgroup");
  std::string text;
  UniqueFd cgroup_fd = open_at_optional(proc_, cgroup_file, O_RDONLY);
  if (!cgroup_fd) throw SysError("open", "/proc/" + cgroup_file, ESRCH);
  if (!pread_file(cgroup_fd.get(), text)) throw SysError("read", "/proc/" + cgroup_file, errno);
  r.cgroups = std::make_shared<const cgroup::ReaderCgroups>(
      cgroup::resolve(layout, core::parse_proc_cgroup(text, cgroup_file)));

  UniqueFd ns = open_at_optional(proc_, pid_file(pid, "ns/pid"), O_RDONLY);
  ino_t ino = ns ? ns_inode(ns.get()) : 0;
  // Without a namespace link (fixture trees) the reader counts as the host's.
  if (ns && ino != 0 && ino != own_pidns_) {
    r.host_pidns = false;
    r.init_pid = find_init(pid, ns.get(), ino);
    r.pidns = std::make_shared<UniqueFd>(std::move(ns));
  }
  auto stat = read_file_at(proc_, pid_file(r.init_pid, "stat"));
  if (!stat) throw SysError("open", "/proc/" + pid_file(r.init_pid, "stat"), ESRCH);
  r.init_start = core::parse_pid_stat(*stat, pid_file(r.init_pid, "stat")).starttime;

  if (FdCache::kernel_generated(cgroup_fd.get())) {
    std::lock_guard<std::mutex> lock(mu_);
    if (known_.size() >= kMaxKnown && !known_.count(pid)) forget_oldest();
    known_[pid] = Known{std::make_shared<UniqueFd>(std::move(cgroup_fd)),
                        text,
                        r.cgroups,
                        r.host_pidns,
                        r.init_pid,
                        r.init_start,
                        r.pidns,
                        ++clock_,
                        now};
  }
  return r;
}

void ReaderResolver::forget_oldest() const {
  std::vector<std::pair<uint64_t, pid_t>> by_age;
  by_age.reserve(known_.size());
  for (const auto& [pid, k] : known_) by_age.emplace_back(k.last_used, pid);
  const size_t n = std::max<size_t>(1, by_age.size() / 8);
  std::nth_element(by_age.begin(), by_age.begin() + static_cast<long>(n - 1), by_age.end());
  for (size_t i = 0; i < n; ++i) known_.erase(by_age[i].second);
}

size_t ReaderResolver::known() const {
  std::lock_guard<std::mutex> lock(mu_);
  return known_.size();
}

pid_t ReaderResolver::find_init(pid_t pid, int pidns_fd, ino_t pidns_ino) const {
  int init = ::ioctl(pidns_fd, NS_GET_TGID_FROM_PIDNS, 1);
  if (init > 0) return init;
  // Older kernels: the init is the oldest ancestor inside the namespace.
  pid_t cur = pid;
  for (int depth = 0; depth < 1024; ++depth) {
    auto stat = read_file_at(proc_, pid_file(cur, "stat"));
    if (!stat) break;
    long ppid = core::parse_pid_stat(*stat, pid_file(cur, "stat")).ppid;
    if (ppid <= 0) break;
    struct stat st;
    if (::fstatat(proc_, pid_file(static_cast<pid_t>(ppid), "ns/pid").c_str(), &st, 0) != 0 ||
        st.st_ino != pidns_ino) {
      break;
    }
    cur = static_cast<pid_t>(ppid);
  }
  return cur;
}

pid_t ReaderResolver::pid_in(const Reader& reader, pid_t host_pid) const {
  if (reader.host_pidns) return host_pid;
  int v = ::ioctl(reader.pidns->get(), NS_GET_PID_IN_PIDNS, host_pid);
  if (v > 0) return v;
  if (errno != ENOTTY && errno != EINVAL) return 0;
  // Older kernels: the last NSpid entry is the pid in the innermost namespace.
  auto status = read_file_at(proc_, pid_file(host_pid, "status"));
  if (!status) return 0;
  for (auto line : core::split(*status, '\n')) {
    if (line.substr(0, 6) != "NSpid:") continue;
    auto toks = core::split_ws(line.substr(6));
    if (toks.size() < 2) return 0;  // only visible in the host namespace
    auto v2 = parse_u64(toks.back());
    return v2 ? static_cast<pid_t>(*v2) : 0;
  }
  return 0;
}

}  // namespace vproc::view
