#include "lib/base/sys_error.h"

#include <cerrno>
#include <cstring>

namespace vproc {

namespace {
std::string join(const std::string& what, const std::string& where, const std::string& detail) {
  std::string s = what;
  if (!where.empty()) s += " " + where;
  s += ": " + detail;
  return s;
}
}  // namespace

SysError::SysError(std::string what, const std::string& where, int err)
    : std::runtime_error(join(what, where, std::strerror(err))), err_(err) {}

SysError::SysError(const std::string& what, const std::string& where, const std::string& detail)
    : std::runtime_error(join(what, where, detail)), err_(EINVAL) {}

SysError::SysError(int err, const std::string& message) : std::runtime_error(message), err_(err) {}

InputError::InputError(const std::string& message) : SysError(EINVAL, message) {}

}  // namespace vproc
