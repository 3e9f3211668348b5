// Adding vproc-hook to an OCI bundle's config.json (pure: JSON text in, JSON
// text out). vproc-hook goes at hooks.createRuntime (stage `create`: inject)
// and hooks.poststop (stage `poststop`: drop the registry record), after the
// hooks already there. Everything else stays as it was, in its order
// (nlohmann::ordered_json); an entry with vproc-hook's path already in a stage
// is left alone, so editing twice changes nothing.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace vproc::runtime {

struct HookSpec {
  std::string path;                    // absolute path of vproc-hook
  std::vector<std::string> hook_args;  // after the stage: ["--mountpoint=/x"]
};

enum class EditOutcome {
  kEdited,          // at least one hook added
  kAlreadyPresent,  // both stages had vproc-hook already
  kOptedOut,        // VPROC_ENABLE=false in process.env, or vproc.io/enable=false
};

// Whether the container opted out: `VPROC_ENABLE=false` in process.env or
// annotations["vproc.io/enable"] == "false". (Docker 20.10 passes labels to
// neither, so the environment is how a `docker run` opts out.)
bool opted_out(const nlohmann::ordered_json& config);

// The OCI hook entry for a stage ("create" or "poststop"):
// {"path": PATH, "args": ["vproc-hook", STAGE, hook_args...]}.
nlohmann::ordered_json hook_entry(const HookSpec& spec, const std::string& stage);

// Adds the hooks to a parsed config.json. Throws InputError when the parts
// it touches have the wrong type (config not an object, hooks not an object,
// a stage not an array).
EditOutcome add_hooks(nlohmann::ordered_json& config, const HookSpec& spec);

struct EditResult {
  EditOutcome outcome;
  std::string text;  // the new config.json when outcome is kEdited, else empty
};

// The same on the file's text. Errors (not JSON, or the above) are
// InputErrors whose message starts with `display` (the file's path).
EditResult edit_config(const std::string& text, const HookSpec& spec, const std::string& display);

}  // namespace vproc::runtime
