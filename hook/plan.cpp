#include "hook/plan.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "lib/base/io.h"
#include "lib/core/text.h"
#include "lib/proc/identity.h"
#include "lib/registry/registry.h"

namespace vproc::hook {

using nlohmann::json;

namespace {

constexpr const char* kEnable = "vproc.io/enable";
constexpr const char* kFiles = "vproc.io/files";

json parse_object(std::string_view text, const char* what) {
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    throw InputError(std::string(what) + ": empty input");
  }
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw InputError(std::string(what) + ": not valid JSON");
  if (!j.is_object()) throw InputError(std::string(what) + ": not a JSON object");
  return j;
}

std::string optional_string(const json& j, const char* key, const char* what) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return {};
  if (!it->is_string()) throw InputError(std::string(what) + ": \"" + key + "\" is not a string");
  return it->get<std::string>();
}

std::map<std::string, std::string> annotations_of(const json& j, const char* what) {
  std::map<std::string, std::string> out;
  auto it = j.find("annotations");
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_object()) throw InputError(std::string(what) + ": \"annotations\" is not an object");
  for (auto& [k, v] : it->items()) {
    if (!v.is_string()) {
      throw InputError(std::string(what) + ": annotation \"" + k + "\" is not a string");
    }
    out[k] = v.get<std::string>();
  }
  return out;
}

}  // namespace

State parse_state(std::string_view text) {
  json j = parse_object(text, "state");
  State s;
  s.id = optional_string(j, "id", "state");
  if (s.id.empty()) throw InputError("state: missing \"id\"");
  if (!valid_container_id(s.id)) throw InputError("state: invalid container id \"" + s.id + "\"");
  auto pid = j.find("pid");
  if (pid != j.end() && !pid->is_null()) {
    if (!pid->is_number_integer() || pid->get<long long>() < 0 || pid->get<long long>() > kMaxPid) {
      throw InputError("state: \"pid\" is not a valid pid");
    }
    s.pid = static_cast<int>(pid->get<long long>());
  }
  s.bundle = optional_string(j, "bundle", "state");
  if (s.bundle.empty()) s.bundle = optional_string(j, "bundlePath", "state");
  s.status = optional_string(j, "status", "state");
  s.annotations = annotations_of(j, "state");
  return s;
}

std::string peek_id(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return {};
  auto it = j.find("id");
  if (it == j.end() || !it->is_string() || !valid_container_id(it->get<std::string>())) return {};
  return it->get<std::string>();
}

Config parse_config(std::string_view text) {
  json j = parse_object(text, "config.json");
  Config c;
  auto root = j.find("root");
  if (root == j.end() || !root->is_object()) throw InputError("config.json: missing \"root\"");
  c.root_path = optional_string(*root, "path", "config.json root");
  if (c.root_path.empty()) throw InputError("config.json: missing \"root.path\"");
  c.annotations = annotations_of(j, "config.json");
  return c;
}

std::vector<std::string> parse_files_list(std::string_view list) {
  std::vector<bool> want(injectable_files().size(), false);
  bool any = false;
  core::for_each_piece(list, ',', [&](std::string_view piece) {
    std::string_view item = trim(piece);
    if (item.empty()) return;
    auto it = std::find_if(injectable_files().begin(), injectable_files().end(),
                           [&](const ServedFile& f) { return item == f.name; });
    if (it == injectable_files().end()) {
      std::string known;
      for (const ServedFile& f : injectable_files())
        known += std::string(known.empty() ? "" : ",") + f.name;
      throw InputError(std::string(kFiles) + ": unknown file \"" + std::string(item) +
                       "\" (known: " + known + ")");
    }
    want[static_cast<size_t>(it - injectable_files().begin())] = true;
    any = true;
  });
  if (!any) throw InputError(std::string(kFiles) + ": empty list");
  std::vector<std::string> out;
  for (size_t i = 0; i < injectable_files().size(); ++i) {
    if (want[i]) out.emplace_back(injectable_files()[i].name);
  }
  return out;
}

std::map<std::string, std::string> merged_annotations(const State& s, const Config& c) {
  std::map<std::string, std::string> out = c.annotations;
  for (const auto& [k, v] : s.annotations) out[k] = v;
  return out;
}

std::string resolve_rootfs(const std::string& bundle, const std::string& root_path) {
  std::filesystem::path p(root_path);
  if (p.is_relative()) {
    if (bundle.empty() || bundle[0] != '/') {
      throw InputError("relative root.path \"" + root_path + "\" needs an absolute bundle path");
    }
    p = std::filesystem::path(bundle) / p;
  }
  std::string s = p.lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

Plan make_plan(const State& s, const Config& c, const std::string& mountpoint, Policy policy) {
  Plan plan;
  auto ann = merged_annotations(s, c);
  auto en = ann.find(kEnable);
  if (en != ann.end()) {
    if (en->second == "false") {
      plan.why_not = std::string(kEnable) + " is \"false\"";
      return plan;
    }
    if (en->second != "true") {
      throw InputError(std::string(kEnable) + ": expected \"true\" or \"false\", got \"" +
                       en->second + "\"");
    }
  } else if (policy == Policy::kOptIn) {
    plan.why_not = std::string(kEnable) + " is not set (policy opt-in injects only \"true\")";
    return plan;
  }
  if (s.pid <= 0) throw InputError("state: missing \"pid\"");
  plan.rootfs = resolve_rootfs(s.bundle, c.root_path);
  std::vector<std::string> names;
  auto fl = ann.find(kFiles);
  if (fl != ann.end()) {
    names = parse_files_list(fl->second);
  } else {
    for (const ServedFile& f : injectable_files()) names.emplace_back(f.name);
  }
  std::string mp = mountpoint;
  while (mp.size() > 1 && mp.back() == '/') mp.pop_back();
  for (const std::string& n : names) {
    for (const ServedFile& f : injectable_files()) {
      if (n == f.name) plan.files.push_back({f.name, mp + "/" + f.source, f.target, f.needs_psi});
    }
  }
  plan.inject = true;
  return plan;
}

}  // namespace vproc::hook
