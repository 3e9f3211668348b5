#include "hook/cpu_dir.h"

#include <fcntl.h>

#include <algorithm>
#include <exception>

#include "lib/base/io.h"
#include "lib/cgroup/cgroup_reader.h"
#include "lib/files/files.h"
#include "lib/proc/identity.h"
#include "lib/registry/registry.h"

namespace vproc::hook {

std::optional<std::vector<int>> container_cpus(pid_t pid, const std::string& registry_dir,
                                               const std::string& cgroup_root, std::string* why) {
  try {
    const std::string rel = std::to_string(pid) + "/cgroup";
    std::optional<std::string> cg = read_file_at(host_proc(), rel, "/proc/" + rel);
    if (!cg) {
      *why = "container init pid " + std::to_string(pid) + " is gone";
      return std::nullopt;
    }
    std::string stat =
        pread_all(open_at(host_proc(), "stat", O_RDONLY, "/proc/stat").get(), "/proc/stat");
    cgroup::CgroupReader reader(open_at(AT_FDCWD, cgroup_root, O_RDONLY | O_DIRECTORY));
    std::vector<int> cpus = cgroup::visible_cpus_of(reader, *cg, stat, read_cpu_view(registry_dir));
    if (cpus.empty()) {
      *why = "no online CPU found in /proc/stat";
      return std::nullopt;
    }
    return cpus;
  } catch (const std::exception& e) {
    *why = e.what();
    return std::nullopt;
  }
}

std::string plan_cpu_dir(AttachRequest& req, const std::string& registry_dir,
                         const std::string& cgroup_root) {
  bool wanted = std::any_of(req.files.begin(), req.files.end(),
                            [](const InjectFile& f) { return in_cpu_dir(f.target); });
  if (!wanted) return "";
  std::string why;
  req.cpu_dir = container_cpus(req.pid, registry_dir, cgroup_root, &why);
  if (req.cpu_dir) return "";
  return std::string("the container's own ") + kCpuDirTarget + " was not made (" + why +
         "); its files are injected over the host's directory";
}

}  // namespace vproc::hook
