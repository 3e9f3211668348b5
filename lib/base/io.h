// Small I/O helpers shared by vprocd and vproc-hook. Every open passes
// O_CLOEXEC; EINTR is retried here and nowhere else.
#pragma once

#include <sys/types.h>

#include <cerrno>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "lib/base/unique_fd.h"

namespace vproc {

template <typename F>
auto retry_eintr(F f) {
  decltype(f()) r;
  do {
    r = f();
  } while (r == -1 && errno == EINTR);
  return r;
}

// openat(dirfd, rel, flags|O_CLOEXEC). Throws SysError naming `display` (or rel).
UniqueFd open_at(int dirfd, const std::string& rel, int flags, const std::string& display = {});
// Like open_at, but ENOENT/ENOTDIR give an empty fd instead of an exception.
UniqueFd open_at_optional(int dirfd, const std::string& rel, int flags);

// The one whole-file reader. Reads fd from offset 0 with pread (a cached fd
// can be re-read) until a read returns 0: a short read is not the end, since
// a seq_file (/proc/cpuinfo, /proc/PID/mountinfo, cgroup.threads) hands out at
// most a page per read. Files over kMaxFileSize are refused. Returns false
// with errno set (EFBIG over the limit); `out` is then unspecified.
//
// one_record: the file is a seq_file of one record (single_open: /proc/meminfo,
// /proc/stat, /proc/PID/cgroup; a cgroup control file other than the task
// lists), which the kernel prints whole into its buffer and hands out in the
// first read when it fits: a first read shorter than asked is the whole file,
// and the read that would return 0 (a syscall) is skipped.
inline constexpr size_t kMaxFileSize = 16u << 20;
bool pread_file(int fd, std::string& out, bool one_record = false);
// The same, throwing SysError("read", display, errno).
std::string pread_all(int fd, const std::string& display);
// Reads dirfd/rel; nullopt when it does not exist. Other errors throw.
std::optional<std::string> read_file_at(int dirfd, const std::string& rel,
                                        const std::string& display = {});
// Writes all of data to fd (EINTR and short writes handled). Throws SysError.
void write_all(int fd, std::string_view data, const std::string& display);
// Replaces the file at path with data: written to `tmp` (beside it, O_NOFOLLOW),
// then renamed over it, so a reader sees the old file or the new one whole.
// No fsync (vproc's state lives on a tmpfs). Throws SysError; leaves no tmp.
void replace_file(const std::string& path, const std::string& tmp, std::string_view data,
                  mode_t mode);

// Whitespace in kernel and config text: space, \t, \n, \r, \v, \f (the C
// locale's isspace, without its locale lookup). trim() and the tokenizers of
// lib/core/text.h split on exactly these.
constexpr bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
std::string_view trim(std::string_view s);
// Strict unsigned decimal parse of the whole token (surrounding whitespace
// trimmed); nullopt on anything else.
std::optional<unsigned long long> parse_u64(std::string_view s);

}  // namespace vproc
