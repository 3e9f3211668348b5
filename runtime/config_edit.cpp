#include "runtime/config_edit.h"

#include <algorithm>

#include "lib/base/sys_error.h"

namespace vproc::runtime {

using nlohmann::ordered_json;

namespace {

// OCI says hooks.<stage>[].path; the basename is the hook's argv[0].
std::string base_name(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool has_hook(const ordered_json& stage_hooks, const std::string& path) {
  return std::any_of(stage_hooks.begin(), stage_hooks.end(), [&](const ordered_json& h) {
    auto p = h.is_object() ? h.find("path") : h.end();
    return p != h.end() && p->is_string() && p->get_ref<const std::string&>() == path;
  });
}

// Appends vproc-hook to hooks[key] unless it is there. Returns whether it added.
bool add_to_stage(ordered_json& hooks, const char* key, const HookSpec& spec,
                  const std::string& stage) {
  ordered_json& list = hooks[key];
  if (list.is_null()) list = ordered_json::array();
  if (!list.is_array()) throw InputError(std::string("\"hooks.") + key + "\" is not an array");
  if (has_hook(list, spec.path)) return false;
  list.push_back(hook_entry(spec, stage));
  return true;
}

}  // namespace

bool opted_out(const ordered_json& config) {
  if (auto a = config.find("annotations"); a != config.end() && a->is_object()) {
    auto en = a->find("vproc.io/enable");
    if (en != a->end() && *en == "false") return true;
  }
  auto process = config.find("process");
  if (process == config.end() || !process->is_object()) return false;
  auto env = process->find("env");
  if (env == process->end() || !env->is_array()) return false;
  return std::any_of(env->begin(), env->end(),
                     [](const ordered_json& e) { return e == "VPROC_ENABLE=false"; });
}

ordered_json hook_entry(const HookSpec& spec, const std::string& stage) {
  ordered_json args = ordered_json::array({base_name(spec.path), stage});
  for (const std::string& a : spec.hook_args) args.push_back(a);
  return ordered_json{{"path", spec.path}, {"args", std::move(args)}};
}

EditOutcome add_hooks(ordered_json& config, const HookSpec& spec) {
  if (!config.is_object()) throw InputError("not a JSON object");
  if (opted_out(config)) return EditOutcome::kOptedOut;
  ordered_json& hooks = config["hooks"];
  if (hooks.is_null()) hooks = ordered_json::object();
  if (!hooks.is_object()) throw InputError("\"hooks\" is not an object");
  bool added = add_to_stage(hooks, "createRuntime", spec, "create");
  added = add_to_stage(hooks, "poststop", spec, "poststop") || added;
  return added ? EditOutcome::kEdited : EditOutcome::kAlreadyPresent;
}

EditResult edit_config(const std::string& text, const HookSpec& spec, const std::string& display) {
  ordered_json config = ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded()) throw InputError(display + ": not valid JSON");
  EditResult r;
  try {
    r.outcome = add_hooks(config, spec);
    if (r.outcome == EditOutcome::kEdited) r.text = config.dump();
  } catch (const nlohmann::json::exception& e) {
    throw InputError(display + ": " + e.what());  // dump(): a string that is not UTF-8
  } catch (const InputError& e) {
    throw InputError(display + ": " + e.what());
  }
  return r;
}

}  // namespace vproc::runtime
