#include "hook/view.h"

#include <fcntl.h>

#include <exception>
#include <vector>

#include "lib/base/io.h"
#include "lib/inject/mountinfo.h"

namespace vproc::hook {

namespace {

// The fstype of the top mount at `path` in this process's mount table, "" when none.
std::string top_fstype(const std::string& path) {
  std::string text =
      pread_all(open_at(AT_FDCWD, "/proc/self/mountinfo", O_RDONLY).get(), "/proc/self/mountinfo");
  std::string type;
  for (const MountInfo& m : parse_mountinfo(text)) {
    if (m.mount_point == path) type = m.fstype;
  }
  return type;
}

std::string strip_slashes(std::string s) {
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

}  // namespace

std::string view_dir(const std::string& registry_dir) {
  return strip_slashes(registry_dir) + "/view";
}

std::string use_container_view(AttachRequest& req, const std::string& registry_dir,
                               std::uint64_t start_time) {
  const std::string dir = view_dir(registry_dir);
  try {
    if (top_fstype(dir) != "fuse.vprocd") {
      return "vprocd serves no container view at " + dir +
             " (started without --container-view?); using the per-reader files";
    }
  } catch (const std::exception& e) {
    return std::string(e.what()) + "; using the per-reader files";
  }
  const std::string from = strip_slashes(req.mountpoint) + "/";
  const std::string to =
      dir + "/" + std::to_string(req.pid) + "-" + std::to_string(start_time) + "/";
  for (InjectFile& f : req.files) {
    if (f.source.rfind(from, 0) == 0) f.source = to + f.source.substr(from.size());
  }
  return "";
}

}  // namespace vproc::hook
