// vproc-runtime's command line: its own options (each `--vproc-...`, first),
// then the real runtime's command line, passed on untouched. This module only
// reads that command line (no I/O): which of runc's arguments is the
// subcommand, and, for `create` and `run`, which bundle directory it names.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace vproc::runtime {

// The options of vproc-runtime itself. Empty strings mean "the default".
struct Options {
  std::string hook;                    // --vproc-hook: the vproc-hook binary
  std::string runtime = "runc";        // --vproc-runtime: the real runtime
  std::vector<std::string> hook_args;  // --vproc-hook-arg, in order
  bool help = false;
  bool version = false;
};

// A command line split in two.
struct Invocation {
  Options own;
  std::vector<std::string> runtime_args;  // everything after our options
  std::string subcommand;                 // "" when there is none (runc --version)
  // For create and run: the bundle directory as given ("" = the current directory).
  std::optional<std::string> bundle;
};

// Splits args (without argv[0]). Our options are the leading `--vproc-*`
// arguments, as `--vproc-x=V` or `--vproc-x V`; the first other argument
// starts the runtime's command line. Throws InputError on an unknown
// `--vproc-*` option or one without its value.
Invocation split_args(const std::vector<std::string>& args);

// Index in runtime_args of runc's subcommand: the first argument that is not
// a global option or a global option's value (`--root DIR`, `--log=F`);
// nullopt when there is none.
std::optional<size_t> find_subcommand(const std::vector<std::string>& runtime_args);

// For `create` and `run` (the subcommand at `sub`): the bundle directory given
// by `--bundle DIR`, `--bundle=DIR`, `-b DIR` or `-b=DIR` ("" when none is,
// which means the current directory). nullopt for other subcommands.
std::optional<std::string> find_bundle(const std::vector<std::string>& runtime_args, size_t sub);

// Whether the subcommand creates a container (its config.json is read).
bool creates_container(const std::string& subcommand);

}  // namespace vproc::runtime
