// The I/O around config_edit: reads a bundle's config.json, adds vproc-hook
// (runtime/config_edit.h) and writes it back atomically, and finds the
// programs vproc-runtime runs.
#pragma once

#include <optional>
#include <string>

#include "runtime/config_edit.h"

namespace vproc::runtime {

// Edits BUNDLE/config.json (bundle "" = the current directory). The new file
// is written beside the old one (`config.json.vproc-XXXXXX`, the old file's
// mode) and renamed over it, so the runtime reads the old file or
// the new one whole. Unchanged files are not written. Throws SysError (and
// InputError for a malformed file), leaving the old file as it was.
EditOutcome edit_bundle(const std::string& bundle, const HookSpec& spec);

// Where `name` runs from: itself when it has a slash, else the first
// executable regular file `DIR/name` for DIR in `path_env` (a PATH value;
// an empty entry is the current directory). nullopt when there is none.
std::optional<std::string> find_program(const std::string& name, const std::string& path_env);

// vproc-hook's path: `given` (made absolute against the current directory),
// or by default `vproc-hook` beside this program's own binary, if it is
// there, else `fallback` (the installed hook's path).
std::string hook_path(const std::string& given, const std::string& fallback);

}  // namespace vproc::runtime
