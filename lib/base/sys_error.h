// The one error type of vproc: what failed, on which path, and errno.
// Message shape: "openat /sys/fs/cgroup/memory/x/memory.max: No such file or directory".
#pragma once

#include <stdexcept>
#include <string>

namespace vproc {

class SysError : public std::runtime_error {
 public:
  SysError(std::string what, const std::string& where, int err);
  // For failures that have no errno (malformed input): err() is EINVAL.
  SysError(const std::string& what, const std::string& where, const std::string& detail);
  // The message exactly as given, for a failure whose text already says what
  // and where ("vprocd is not running (stale FUSE mount at /var/lib/vproc)").
  SysError(int err, const std::string& message);
  int err() const { return err_; }

 private:
  int err_;
};

// Malformed input (OCI JSON, a registry record, an annotation, kernel text that
// breaks its format): a SysError with errno EINVAL whose message is exactly
// the text given, which already says what and where.
class InputError : public SysError {
 public:
  explicit InputError(const std::string& message);
};

}  // namespace vproc
