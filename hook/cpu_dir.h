// The CPUs of a container's own CPU directory (lib/inject InjectRequest::cpu_dir):
// those vprocd shows its init in sys/devices/system/cpu/online, worked out by
// the same rule from the init's cgroup, the host's online CPUs and vprocd's
// --cpu-view (published in the registry directory).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "lib/inject/attach.h"

namespace vproc::hook {

// nullopt, with *why set, when they cannot be known (the init is gone, its
// cgroup is unreadable): the files are injected without the directory then.
std::optional<std::vector<int>> container_cpus(pid_t pid, const std::string& registry_dir,
                                               const std::string& cgroup_root, std::string* why);

// Sets req.cpu_dir when one of req.files lies in the CPU directory. Returns
// why it stays unset when it should have been set, "" otherwise.
std::string plan_cpu_dir(AttachRequest& req, const std::string& registry_dir,
                         const std::string& cgroup_root = "/sys/fs/cgroup");

}  // namespace vproc::hook
