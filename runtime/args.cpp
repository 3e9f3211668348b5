// The flag grammar is Go's (runc uses urfave/cli on top of package flag):
// `-name` and `--name` are the same flag, a value comes as `--name=V` or as
// the next argument, and `--` ends the flags. crun accepts the same spellings.
#include "runtime/args.h"

#include <algorithm>
#include <array>
#include <string_view>

#include "lib/base/sys_error.h"

namespace vproc::runtime {

namespace {

// runc's global flags that take a value (and crun's: log-level, cgroup-manager).
constexpr std::array<std::string_view, 7> kGlobalValueFlags = {
    "root", "log", "log-format", "criu", "rootless", "log-level", "cgroup-manager"};
// create's and run's flags that take a value, besides the bundle's
// (crun: config, f).
constexpr std::array<std::string_view, 5> kCreateValueFlags = {"console-socket", "pid-file",
                                                               "preserve-fds", "config", "f"};

struct Flag {
  std::string_view name;   // without the dashes
  bool has_value = false;  // `--name=value`
  std::string_view value;
};

// A flag argument (`-x`, `--x`, `--x=v`), or nullopt for a positional
// argument (including `-` alone) and for `--`.
std::optional<Flag> as_flag(std::string_view arg) {
  if (arg.size() < 2 || arg[0] != '-' || arg == "--") return std::nullopt;
  arg.remove_prefix(arg[1] == '-' ? 2 : 1);
  Flag f;
  size_t eq = arg.find('=');
  f.name = arg.substr(0, eq);
  if (eq != std::string_view::npos) {
    f.has_value = true;
    f.value = arg.substr(eq + 1);
  }
  return f;
}

template <size_t N>
bool is_one_of(std::string_view name, const std::array<std::string_view, N>& names) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// Applies one of our options (name without `--vproc-`) with its value.
void set_option(Options& opt, std::string_view name, const std::string& value) {
  if (name == "hook") {
    opt.hook = value;
  } else if (name == "runtime") {
    opt.runtime = value;
  } else {
    opt.hook_args.push_back(value);  // hook-arg
  }
}

bool takes_value(std::string_view name) {
  return name == "hook" || name == "runtime" || name == "hook-arg";
}

}  // namespace

Invocation split_args(const std::vector<std::string>& args) {
  constexpr std::string_view kPrefix = "--vproc-";
  Invocation inv;
  size_t i = 0;
  for (; i < args.size() && std::string_view(args[i]).starts_with(kPrefix); ++i) {
    std::string_view arg = std::string_view(args[i]).substr(kPrefix.size());
    size_t eq = arg.find('=');
    std::string_view name = arg.substr(0, eq);
    if (name == "help" || name == "version") {
      if (eq != std::string_view::npos) throw InputError(args[i] + ": takes no value");
      (name == "help" ? inv.own.help : inv.own.version) = true;
      continue;
    }
    if (!takes_value(name)) throw InputError("unknown option " + args[i] + " (see --vproc-help)");
    if (eq != std::string_view::npos) {
      set_option(inv.own, name, std::string(arg.substr(eq + 1)));
    } else if (i + 1 < args.size()) {
      set_option(inv.own, name, args[++i]);
    } else {
      throw InputError("option " + args[i] + " needs a value");
    }
  }
  if (inv.own.runtime.empty()) throw InputError("--vproc-runtime: empty path");
  inv.runtime_args.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
  if (auto sub = find_subcommand(inv.runtime_args)) {
    inv.subcommand = inv.runtime_args[*sub];
    inv.bundle = find_bundle(inv.runtime_args, *sub);
  }
  return inv;
}

std::optional<size_t> find_subcommand(const std::vector<std::string>& runtime_args) {
  for (size_t i = 0; i < runtime_args.size(); ++i) {
    if (runtime_args[i] == "--")
      return i + 1 < runtime_args.size() ? std::optional(i + 1) : std::nullopt;
    std::optional<Flag> f = as_flag(runtime_args[i]);
    if (!f) return i;
    if (!f->has_value && is_one_of(f->name, kGlobalValueFlags)) ++i;  // skip the value
  }
  return std::nullopt;
}

std::optional<std::string> find_bundle(const std::vector<std::string>& runtime_args, size_t sub) {
  if (sub >= runtime_args.size() || !creates_container(runtime_args[sub])) return std::nullopt;
  std::string bundle;
  // urfave/cli moves flags after the container id in front of it, so the
  // whole rest of the line is searched, up to `--`.
  for (size_t i = sub + 1; i < runtime_args.size() && runtime_args[i] != "--"; ++i) {
    std::optional<Flag> f = as_flag(runtime_args[i]);
    if (!f) continue;
    bool is_bundle = f->name == "bundle" || f->name == "b";
    if (!is_bundle && !is_one_of(f->name, kCreateValueFlags)) continue;
    if (f->has_value) {
      if (is_bundle) bundle = std::string(f->value);
    } else if (i + 1 < runtime_args.size()) {
      ++i;
      if (is_bundle) bundle = runtime_args[i];
    }
  }
  return bundle;
}

bool creates_container(const std::string& subcommand) {
  return subcommand == "create" || subcommand == "run";
}

}  // namespace vproc::runtime
