#include "lib/base/io.h"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <vector>

#include "lib/base/sys_error.h"

namespace vproc {

UniqueFd open_at(int dirfd, const std::string& rel, int flags, const std::string& display) {
  int fd = retry_eintr([&] { return ::openat(dirfd, rel.c_str(), flags | O_CLOEXEC); });
  if (fd < 0) throw SysError("openat", display.empty() ? rel : display, errno);
  return UniqueFd(fd);
}

UniqueFd open_at_optional(int dirfd, const std::string& rel, int flags) {
  int fd = retry_eintr([&] { return ::openat(dirfd, rel.c_str(), flags | O_CLOEXEC); });
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return UniqueFd();
    throw SysError("openat", rel, errno);
  }
  return UniqueFd(fd);
}

bool pread_file(int fd, std::string& out, bool one_record) {
  constexpr size_t kChunk = 16384;
  // Read into a per-thread buffer, then copy exactly what came: no 16 KiB
  // allocation (and zeroing) per read of a 1 KiB file on vprocd's hot path.
  thread_local std::vector<char> buf(kChunk);
  size_t off = 0;
  for (;;) {
    if (buf.size() < off + kChunk) buf.resize(off + kChunk);
    ssize_t n =
        retry_eintr([&] { return ::pread(fd, buf.data() + off, kChunk, static_cast<off_t>(off)); });
    if (n < 0) return false;
    if (n == 0) break;
    off += static_cast<size_t>(n);
    if (one_record && off == static_cast<size_t>(n) && static_cast<size_t>(n) < kChunk) break;
    if (off > kMaxFileSize) {
      errno = EFBIG;
      return false;
    }
  }
  out.assign(buf.data(), off);
  if (buf.size() > 4 * kChunk) {  // one big file: give the memory back
    buf.resize(kChunk);
    buf.shrink_to_fit();
  }
  return true;
}

std::string pread_all(int fd, const std::string& display) {
  std::string out;
  if (!pread_file(fd, out)) throw SysError("read", display, errno);
  return out;
}

std::optional<std::string> read_file_at(int dirfd, const std::string& rel,
                                        const std::string& display) {
  UniqueFd fd = open_at_optional(dirfd, rel, O_RDONLY);
  if (!fd) return std::nullopt;
  return pread_all(fd.get(), display.empty() ? rel : display);
}

void write_all(int fd, std::string_view data, const std::string& display) {
  while (!data.empty()) {
    ssize_t n = retry_eintr([&] { return ::write(fd, data.data(), data.size()); });
    if (n < 0) throw SysError("write", display, errno);
    data.remove_prefix(static_cast<size_t>(n));
  }
}

void replace_file(const std::string& path, const std::string& tmp, std::string_view data,
                  mode_t mode) {
  int raw = retry_eintr([&] {
    return ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
  });
  if (raw < 0) throw SysError("open", tmp, errno);
  UniqueFd fd(raw);
  try {
    write_all(fd.get(), data, tmp);
    fd.reset();
    if (::rename(tmp.c_str(), path.c_str()) != 0) throw SysError("rename", path, errno);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
}

std::optional<unsigned long long> parse_u64(std::string_view s) {
  s = trim(s);
  if (s.empty()) return std::nullopt;
  unsigned long long v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace vproc
