#include "lib/cgroup/fd_cache.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "lib/base/io.h"
#include "lib/base/sys_error.h"

namespace vproc {

bool FdCache::one_record(std::string_view rel) {
  if (rel == "meminfo" || rel == "stat" || rel == "uptime" || rel == "loadavg") return true;
  const size_t slash = rel.rfind('/');
  const std::string_view base = slash == std::string_view::npos ? rel : rel.substr(slash + 1);
  return slash != std::string_view::npos && base.find('.') != std::string_view::npos &&
         base.substr(0, 7) != "cgroup.";
}

std::shared_ptr<UniqueFd> FdCache::get(const std::string& rel) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = fds_.find(rel);
  return it == fds_.end() ? nullptr : it->second.fd;
}

void FdCache::put(const std::string& rel, std::shared_ptr<UniqueFd> fd) {
  std::lock_guard<std::mutex> lock(mu_);
  if (fds_.count(rel)) return;  // another thread was first
  while (!fds_.empty() && fds_.size() >= max_entries_) {
    fds_.erase(order_.back());
    order_.pop_back();
  }
  order_.push_front(rel);
  fds_[rel] = Entry{std::move(fd), order_.begin()};
}

void FdCache::drop(const std::string& rel) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = fds_.find(rel);
  if (it == fds_.end()) return;
  order_.erase(it->second.pos);
  fds_.erase(it);
}

std::optional<std::string> FdCache::read(const std::string& rel, std::string_view display_prefix) {
  std::string out;
  if (auto fd = get(rel)) {
    if (pread_file(fd->get(), out, one_record(rel))) return out;
    // ENODEV: the cgroup was removed (a new one may have its name). Anything
    // else: start again from a fresh open, which reports the error itself.
    drop(rel);
  }
  UniqueFd fd = open_at_optional(root_, rel, O_RDONLY);
  if (!fd) return std::nullopt;
  if (!pread_file(fd.get(), out)) {
    throw SysError("read", std::string(display_prefix) + rel, errno);
  }
  if (kernel_generated(fd.get())) put(rel, std::make_shared<UniqueFd>(std::move(fd)));
  return out;
}

bool FdCache::kernel_generated(int fd) {
  // Only files the kernel renders anew on each read are kept open. A fixture
  // tree's regular files can be replaced under an open fd: read them afresh.
  struct statfs sf;
  if (::fstatfs(fd, &sf) != 0) return false;
  switch (static_cast<unsigned long>(sf.f_type)) {
    case CGROUP_SUPER_MAGIC:
    case CGROUP2_SUPER_MAGIC:
    case PROC_SUPER_MAGIC:
    case SYSFS_MAGIC:
      return true;
    default:
      return false;
  }
}

}  // namespace vproc
