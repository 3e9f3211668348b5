#include "lib/registry/reattach.h"

#include <dirent.h>
#include <fcntl.h>

#include <ctime>
#include <exception>
#include <map>

#include "lib/base/io.h"
#include "lib/inject/mount_inject.h"
#include "lib/inject/attach.h"
#include "lib/files/files.h"
#include "lib/registry/registry.h"

namespace vproc {

namespace {

std::vector<std::string> registry_ids(const std::string& registry_dir) {
  std::vector<std::string> ids;
  std::string dir = registry_dir + "/containers";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return ids;  // nothing registered yet
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    const std::string ext = ".json";
    if (name.size() <= ext.size() || name.compare(name.size() - ext.size(), ext.size(), ext) != 0) {
      continue;  // ".", "..", and temporary files of a write in progress
    }
    ids.push_back(name.substr(0, name.size() - ext.size()));
  }
  ::closedir(d);
  return ids;
}

// target (relative to the rootfs) -> source (relative to vprocd's mountpoint)
const std::map<std::string, std::string>& sources_by_target() {
  static const std::map<std::string, std::string> m = [] {
    std::map<std::string, std::string> r;
    for (const ServedFile& f : injectable_files()) r.emplace(f.target, f.source);
    return r;
  }();
  return m;
}

}  // namespace

ReattachReport reattach_registry(const ReattachOptions& opt) {
  ReattachReport rep;
  for (const std::string& id : registry_ids(opt.registry_dir)) {
    RegistryEntry e;
    try {
      auto text = read_file_at(AT_FDCWD, entry_path(opt.registry_dir, id));
      if (!text) continue;  // removed by a poststop hook meanwhile
      e = parse_entry(*text);
    } catch (const std::exception& ex) {
      ++rep.skipped;
      rep.lines.push_back("skipped registry record " + id + ": " + ex.what());
      continue;
    }
    if (e.mountpoint != opt.mountpoint) {
      ++rep.skipped;
      continue;
    }
    if (!same_process(e.pid, e.pid_start_time, e.mnt_ns)) {
      // Gone, or the pid now names another process: forget it, touch nothing.
      remove_entry(opt.registry_dir, e.id);
      ++rep.pruned;
      rep.lines.push_back("pruned " + e.id + ": pid " + std::to_string(e.pid) +
                          " exited or was reused");
      continue;
    }
    InjectRequest req;
    req.pid = e.pid;
    req.pid_start_time = e.pid_start_time;
    req.mnt_ns = e.mnt_ns;
    req.source_dirfd = opt.source_root;
    req.replace = true;
    std::vector<std::string> wanted;
    for (const std::string& target : e.files) {
      auto it = sources_by_target().find(target);
      if (it == sources_by_target().end()) continue;  // not a file this vprocd serves
      req.files.push_back({it->second, target});
    }
    try {
      // Registered at createRuntime, the rootfs was a host path; once the
      // container has pivoted, its root is "/" in its own namespace.
      req.rootfs = before_pivot(e.pid) ? e.rootfs : "/";
      std::vector<InjectOutcome> outcomes = inject_files(req);
      std::vector<std::string> files;
      for (const InjectOutcome& o : outcomes) {
        if (o.status == InjectStatus::kMounted) {
          ++rep.files;
          files.push_back(o.target);
        } else if (o.reason == kAlreadyAttached) {
          files.push_back(o.target);
        } else {
          rep.lines.push_back("container " + e.id + ": skipped " + o.target + ": " + o.reason);
        }
      }
      ++rep.attached;
      e.files = files;
      e.attached_at = static_cast<std::int64_t>(std::time(nullptr));
      write_entry(opt.registry_dir, e);
    } catch (const std::exception& ex) {
      ++rep.failed;
      rep.lines.push_back("container " + e.id + " (pid " + std::to_string(e.pid) +
                          "): re-attach failed: " + ex.what());
    }
  }
  return rep;
}

}  // namespace vproc
