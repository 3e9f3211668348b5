#include "runtime/bundle.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>

#include "lib/base/io.h"
#include "lib/base/sys_error.h"
#include "lib/base/unique_fd.h"

namespace vproc::runtime {

namespace {

// Writes data to a new file beside `path` and renames it over `path`: a
// reader sees the old file or the new one whole. No fsync: a bundle is
// runtime state (on /run in production) that no container outlives a crash
// of the host with, and an fsync on a disk-backed state directory costs
// milliseconds per container.
void write_atomically(const std::string& path, const std::string& data, mode_t mode) {
  std::string tmp = path + ".vproc-XXXXXX";
  UniqueFd fd(::mkostemp(tmp.data(), O_CLOEXEC));
  if (!fd) throw SysError("mkostemp", tmp, errno);
  try {
    if (::fchmod(fd.get(), mode) != 0) throw SysError("fchmod", tmp, errno);
    write_all(fd.get(), data, tmp);
    if (::close(fd.release()) != 0) throw SysError("close", tmp, errno);
    if (::rename(tmp.c_str(), path.c_str()) != 0) throw SysError("rename", path, errno);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
}

bool is_executable_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

std::string current_dir() {
  char buf[PATH_MAX];
  if (::getcwd(buf, sizeof buf) == nullptr) throw SysError("getcwd", ".", errno);
  return buf;
}

}  // namespace

EditOutcome edit_bundle(const std::string& bundle, const HookSpec& spec) {
  std::string path = (bundle.empty() ? std::string(".") : bundle) + "/config.json";
  // A symlinked config.json would be replaced by a file: refuse it instead.
  UniqueFd fd = open_at(AT_FDCWD, path, O_RDONLY | O_NOFOLLOW);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw SysError("fstat", path, errno);
  if (!S_ISREG(st.st_mode)) throw InputError(path + ": not a regular file");
  EditResult r = edit_config(pread_all(fd.get(), path), spec, path);
  if (r.outcome == EditOutcome::kEdited) write_atomically(path, r.text, st.st_mode & 07777);
  return r.outcome;
}

std::optional<std::string> find_program(const std::string& name, const std::string& path_env) {
  if (name.find('/') != std::string::npos) return name;
  size_t start = 0;
  for (;;) {
    size_t colon = path_env.find(':', start);
    std::string dir = path_env.substr(start, colon - start);
    std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + name;
    if (is_executable_file(candidate)) return candidate;
    if (colon == std::string::npos) return std::nullopt;
    start = colon + 1;
  }
}

std::string hook_path(const std::string& given, const std::string& fallback) {
  if (!given.empty()) return given[0] == '/' ? given : current_dir() + "/" + given;
  char self[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    std::string exe(self, static_cast<size_t>(n));
    std::string beside = exe.substr(0, exe.find_last_of('/') + 1) + "vproc-hook";
    if (is_executable_file(beside)) return beside;
  }
  return fallback;
}

}  // namespace vproc::runtime
