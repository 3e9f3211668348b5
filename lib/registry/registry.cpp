#include "lib/registry/registry.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>

#include "lib/base/io.h"
#include "lib/base/sys_error.h"
#include "lib/files/files.h"

namespace vproc {

using nlohmann::json;

bool recorded(const InjectOutcome& o) {
  return o.status == InjectStatus::kMounted || o.reason == kAlreadyAttached;
}

bool record_outcomes(RegistryEntry& e, const std::vector<InjectOutcome>& outcomes) {
  e.files.clear();
  for (const InjectOutcome& o : outcomes) {
    // The CPU directory is made once, at creation: a re-attach replaces files.
    if (recorded(o) && o.target != kCpuDirTarget) e.files.push_back(o.target);
  }
  e.attached_at = static_cast<std::int64_t>(std::time(nullptr));
  return !e.files.empty();
}

std::string render_entry(const RegistryEntry& e) {
  json j = {{"version", 1},
            {"id", e.id},
            {"pid", e.pid},
            {"pid_start_time", e.pid_start_time},
            {"mnt_ns", e.mnt_ns},
            {"rootfs", e.rootfs},
            {"mountpoint", e.mountpoint},
            {"files", e.files},
            {"view", e.container_view ? "container" : "reader"},
            {"attached_at", e.attached_at}};
  return j.dump(2) + "\n";
}

namespace {

// A non-negative integer field, at most `max`. nlohmann converts doubles and
// wider integers to the requested type silently (1e300 to int is undefined).
std::uint64_t count_field(const json& j, const char* key, std::uint64_t max) {
  const json& v = j.at(key);
  std::optional<std::uint64_t> u;
  if (v.is_number_unsigned()) {
    u = v.get<std::uint64_t>();
  } else if (v.is_number_integer() && v.get<std::int64_t>() >= 0) {
    u = static_cast<std::uint64_t>(v.get<std::int64_t>());
  }
  if (!u || *u > max) {
    throw InputError(std::string("registry entry: \"") + key + "\" is not an integer in range");
  }
  return *u;
}

}  // namespace

RegistryEntry parse_entry(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw InputError("registry entry: not a JSON object");
  try {
    RegistryEntry e;
    e.id = j.at("id").get<std::string>();
    e.pid = static_cast<int>(count_field(j, "pid", kMaxPid));
    if (e.pid == 0) throw InputError("registry entry: \"pid\" is 0");
    e.pid_start_time = count_field(j, "pid_start_time", UINT64_MAX);
    e.mnt_ns = count_field(j, "mnt_ns", UINT64_MAX);
    e.rootfs = j.at("rootfs").get<std::string>();
    e.mountpoint = j.at("mountpoint").get<std::string>();
    e.files = j.at("files").get<std::vector<std::string>>();
    // Records written before the container view have no "view": the per-reader files.
    e.container_view = j.contains("view") && j.at("view").get<std::string>() == "container";
    e.attached_at = j.contains("attached_at")
                        ? static_cast<std::int64_t>(count_field(j, "attached_at", INT64_MAX))
                        : 0;
    return e;
  } catch (const json::exception& ex) {
    throw InputError(std::string("registry entry: ") + ex.what());
  }
}

std::string entry_path(const std::string& registry_dir, const std::string& id) {
  if (!valid_container_id(id)) throw InputError("invalid container id \"" + id + "\"");
  return registry_dir + "/containers/" + id + ".json";
}

std::optional<RegistryEntry> read_entry(const std::string& registry_dir, const std::string& id) {
  auto text = read_file_at(AT_FDCWD, entry_path(registry_dir, id));
  if (!text) return std::nullopt;
  return parse_entry(*text);
}

void write_entry(const std::string& registry_dir, const RegistryEntry& e) {
  std::string dir = registry_dir + "/containers";
  std::string path = entry_path(registry_dir, e.id);
  for (const std::string& d : {registry_dir, dir}) {
    if (::mkdir(d.c_str(), 0700) != 0 && errno != EEXIST) throw SysError("mkdir", d, errno);
  }
  // No fsync: the registry lives on a tmpfs and is meant to vanish at reboot;
  // rename() alone makes the record appear whole or not at all.
  replace_file(path, dir + "/." + e.id + ".tmp." + std::to_string(::getpid()), render_entry(e),
               0600);
}

void write_cpu_view(const std::string& registry_dir, core::CpuView view) {
  if (::mkdir(registry_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    throw SysError("mkdir", registry_dir, errno);
  }
  std::string path = registry_dir + "/cpu-view";
  replace_file(path, path + ".tmp." + std::to_string(::getpid()),
               view == core::CpuView::kCpuset ? "cpuset\n" : "quota\n", 0644);
}

core::CpuView read_cpu_view(const std::string& registry_dir) {
  std::optional<std::string> text;
  try {
    text = read_file_at(AT_FDCWD, registry_dir + "/cpu-view");
  } catch (const SysError&) {
    return core::CpuView::kQuota;
  }
  return text && trim(*text) == "cpuset" ? core::CpuView::kCpuset : core::CpuView::kQuota;
}

bool remove_entry(const std::string& registry_dir, const std::string& id) {
  std::string path = entry_path(registry_dir, id);
  if (::unlink(path.c_str()) == 0) return true;
  if (errno == ENOENT) return false;
  throw SysError("unlink", path, errno);
}

bool valid_container_id(std::string_view id) {
  if (id.empty() || id.size() > 256 || id == "." || id == "..") return false;
  return std::all_of(id.begin(), id.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '-' || ch == '.';
  });
}

std::vector<std::string> registered_ids(const std::string& registry_dir) {
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

}  // namespace vproc
