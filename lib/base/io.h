// Small I/O helpers shared by vprocd and vproc-hook. Every open passes
// O_CLOEXEC; EINTR is retried here and nowhere else.
#pragma once

#include <cerrno>
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

// Reads the whole of fd from offset 0 with pread (a cached fd can be re-read).
std::string pread_all(int fd, const std::string& display);
// Reads dirfd/rel; nullopt when it does not exist. Other errors throw.
std::optional<std::string> read_file_at(int dirfd, const std::string& rel,
                                        const std::string& display = {});
// Writes all of data to fd (EINTR and short writes handled). Throws SysError.
void write_all(int fd, std::string_view data, const std::string& display);

// Strict unsigned decimal parse of the whole token; nullopt on anything else.
std::optional<unsigned long long> parse_u64(std::string_view s);
std::string_view trim(std::string_view s);

}  // namespace vproc
