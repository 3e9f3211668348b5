#include "hook/runtimes.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>

#include "hook/plan.h"
#include "lib/base/io.h"
#include "lib/base/sys_error.h"
#include "lib/base/unique_fd.h"
#include "lib/proc/identity.h"
#include "lib/registry/registry.h"

namespace vproc::hook {

using nlohmann::json;

const std::vector<std::string> kDefaultRuntimeRoots = {
    "/run/runc",                 // runc, and podman with runc
    "/run/containerd/runc",      // containerd's runc shims, one directory per namespace
    "/run/docker/runtime-runc",  // Docker's containerd (namespace "moby")
    "/run/crun",                 // crun, and podman with crun
};

namespace {

json parse_object(std::string_view text, const std::string& path) {
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    throw InputError(path + ": empty file");
  }
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw InputError(path + ": not valid JSON");
  if (!j.is_object()) throw InputError(path + ": not a JSON object");
  return j;
}

int pid_field(const json& j, const char* key, const std::string& path) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) throw InputError(path + ": missing \"" + key + "\"");
  if (!it->is_number_integer() || it->get<long long>() <= 0 ||
      it->get<long long>() > vproc::kMaxPid) {
    throw InputError(path + ": \"" + key + "\" is not a valid pid");
  }
  return static_cast<int>(it->get<long long>());
}

// A start time in clock ticks; 0 when absent. runc < 1.0 wrote it as a
// decimal string, later versions as a number.
std::uint64_t start_time_field(const json& j, const char* key, const std::string& path) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return 0;
  if (it->is_number_unsigned()) return it->get<std::uint64_t>();
  if (it->is_number_integer() && it->get<std::int64_t>() >= 0) {
    return static_cast<std::uint64_t>(it->get<std::int64_t>());
  }
  if (it->is_string()) {
    if (auto v = parse_u64(it->get<std::string>())) return *v;
  }
  throw InputError(path + ": \"" + key + "\" is not a start time (clock ticks)");
}

std::string string_field(const json& j, const char* key, const std::string& path) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return {};
  if (!it->is_string()) throw InputError(path + ": \"" + key + "\" is not a string");
  return it->get<std::string>();
}

}  // namespace

RuncLabels split_runc_labels(const std::vector<std::string>& labels) {
  RuncLabels out;
  size_t last_bundle = labels.size();
  for (size_t i = 0; i < labels.size(); ++i) {
    size_t eq = labels[i].find('=');
    if (eq == std::string::npos) continue;  // not one of runc's key=value labels
    std::string key = labels[i].substr(0, eq);
    if (key == "bundle") last_bundle = i;
  }
  for (size_t i = 0; i < labels.size(); ++i) {
    size_t eq = labels[i].find('=');
    if (eq == std::string::npos) continue;
    std::string key = labels[i].substr(0, eq);
    std::string value = labels[i].substr(eq + 1);
    if (i == last_bundle) {
      out.bundle = value;
    } else {
      out.annotations[key] = value;
    }
  }
  return out;
}

RuntimeContainer parse_runc_state(std::string_view text, const std::string& fallback_id,
                                  const std::string& path) {
  json j = parse_object(text, path);
  RuntimeContainer c;
  c.runtime = "runc";
  c.state_path = path;
  c.id = string_field(j, "id", path);
  if (c.id.empty()) c.id = fallback_id;
  c.pid = pid_field(j, "init_process_pid", path);
  c.start_time = start_time_field(j, "init_process_start", path);
  auto cfg = j.find("config");
  if (cfg != j.end() && !cfg->is_null()) {
    if (!cfg->is_object()) throw InputError(path + ": \"config\" is not an object");
    auto labels = cfg->find("labels");
    if (labels != cfg->end() && !labels->is_null()) {
      if (!labels->is_array()) throw InputError(path + ": \"config.labels\" is not an array");
      std::vector<std::string> list;
      for (const json& l : *labels) {
        if (!l.is_string()) throw InputError(path + ": \"config.labels\" holds a non-string");
        list.push_back(l.get<std::string>());
      }
      RuncLabels split = split_runc_labels(list);
      c.bundle = split.bundle;
      c.label_annotations = std::move(split.annotations);
    }
  }
  return c;
}

RuntimeContainer parse_crun_status(std::string_view text, const std::string& id,
                                   const std::string& path) {
  json j = parse_object(text, path);
  RuntimeContainer c;
  c.runtime = "crun";
  c.state_path = path;
  c.id = id;
  c.pid = pid_field(j, "pid", path);
  c.start_time = start_time_field(j, "process-start-time", path);
  c.bundle = string_field(j, "bundle", path);
  return c;
}

namespace {

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};

// Names in a directory (no "." entries, sorted); empty when it is missing.
std::vector<std::string> list_dir(int dirfd, const std::string& rel, const std::string& display) {
  std::vector<std::string> names;
  UniqueFd fd = open_at_optional(dirfd, rel, O_RDONLY | O_DIRECTORY);
  if (!fd) return names;
  std::unique_ptr<DIR, DirCloser> d(::fdopendir(fd.get()));
  if (!d) throw SysError("fdopendir", display, errno);
  fd.release();  // owned by the DIR now
  while (dirent* e = ::readdir(d.get())) {
    // Dot entries are not containers (crun keeps ".empty-directory" there).
    if (e->d_name[0] == '.') continue;
    names.emplace_back(e->d_name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

bool exists_at(int dirfd, const std::string& rel) {
  struct stat st {};
  return ::fstatat(dirfd, rel.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

bool is_dir_at(int dirfd, const std::string& rel) {
  struct stat st {};
  return ::fstatat(dirfd, rel.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

// Reads and parses DIR/<id>/<file>; a failure becomes the entry's error.
void read_container(int rootfd, const std::string& root, const std::string& rel,
                    const std::string& id, bool crun, std::vector<FoundContainer>* out) {
  FoundContainer f;
  std::string file = rel + (crun ? "/status" : "/state.json");
  std::string path = root + "/" + file;
  f.container.id = id;
  f.container.runtime = crun ? "crun" : "runc";
  f.container.state_path = path;
  try {
    auto text = read_file_at(rootfd, file, path);
    // Deleted between the listing and now: the container is gone.
    if (!text) return;
    f.container = crun ? parse_crun_status(*text, id, path) : parse_runc_state(*text, id, path);
  } catch (const std::exception& e) {
    f.error = e.what();
  }
  out->push_back(std::move(f));
}

}  // namespace

std::vector<FoundContainer> discover_containers(const std::vector<std::string>& roots) {
  std::vector<FoundContainer> out;
  for (const std::string& root : roots) {
    UniqueFd rootfd = open_at_optional(AT_FDCWD, root, O_RDONLY | O_DIRECTORY);
    if (!rootfd) continue;
    for (const std::string& name : list_dir(rootfd.get(), ".", root)) {
      if (exists_at(rootfd.get(), name + "/state.json")) {
        read_container(rootfd.get(), root, name, name, false, &out);
      } else if (exists_at(rootfd.get(), name + "/status")) {
        read_container(rootfd.get(), root, name, name, true, &out);
      } else if (is_dir_at(rootfd.get(), name)) {
        // containerd's layout: ROOT/<namespace>/<id>/state.json. (A runc
        // container still being created has no state.json yet either; its
        // directory holds no subdirectories, so nothing is found there.)
        for (const std::string& id : list_dir(rootfd.get(), name, root + "/" + name)) {
          if (exists_at(rootfd.get(), name + "/" + id + "/state.json")) {
            read_container(rootfd.get(), root, name + "/" + id, id, false, &out);
          }
        }
      }
    }
  }
  return out;
}

std::optional<size_t> match_pid(const std::vector<LiveContainer>& live, int pid,
                                std::uint64_t mnt_ns) {
  for (size_t i = 0; i < live.size(); ++i) {
    if (live[i].container.pid == pid) return i;
  }
  for (size_t i = 0; i < live.size(); ++i) {
    if (mnt_ns != 0 && live[i].mnt_ns == mnt_ns) return i;
  }
  return std::nullopt;
}

}  // namespace vproc::hook
