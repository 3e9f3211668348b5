// vproc-runtime: a runc wrapper for Docker's daemon.json "runtimes" (Docker
// has no hooks.d). Its own `--vproc-*` options come first (Docker passes
// them as runtimeArgs); the rest is the real runtime's command line, which
// it execs untouched, so signals, stdio and the exit status are the real
// runtime's. Before a `create` or `run` it adds vproc-hook to the bundle's
// config.json (runtime/config_edit.h). Failing that is logged (stderr and
// syslog) and the container starts without vproc (fail-open); only a usage
// error (2) or a missing real runtime (127) ends the run here.
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "lib/base/log.h"
#include "lib/base/sys_error.h"
#include "runtime/args.h"
#include "runtime/bundle.h"

namespace {

using namespace vproc::runtime;

// The PATH that execvp uses when PATH is unset, with the sbin directories.
constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

const char* kUsage =
    "vproc-runtime: runs the real OCI runtime (runc) with vproc-hook added to\n"
    "each container it creates. For Docker's daemon.json \"runtimes\".\n"
    "\n"
    "Usage: vproc-runtime [VPROC OPTIONS] [RUNTIME ARGUMENTS...]\n"
    "\n"
    "Options (first, before the runtime's arguments):\n"
    "  --vproc-hook=PATH      vproc-hook to add (default: vproc-hook beside this\n"
    "                         program, else " VPROC_HOOK_INSTALL_PATH
    ")\n"
    "  --vproc-runtime=PATH   The real runtime (default: runc, looked up on PATH)\n"
    "  --vproc-hook-arg=ARG   An argument for vproc-hook, after its stage; repeat\n"
    "                         for more\n"
    "  --vproc-help           Print this help and exit\n"
    "  --vproc-version        Print the version and exit\n"
    "\n"
    "A container whose environment has VPROC_ENABLE=false, or whose annotation\n"
    "vproc.io/enable is \"false\", is left alone.\n";

// Adds vproc-hook to the bundle's config.json; any failure is logged and
// the container starts without vproc.
void add_hook(const Invocation& inv) {
  vproc::log_to_syslog("vproc-runtime");
  std::string bundle = inv.bundle->empty() ? "." : *inv.bundle;
  try {
    HookSpec spec{hook_path(inv.own.hook, VPROC_HOOK_INSTALL_PATH), inv.own.hook_args};
    // A hook the runtime cannot run would fail the container: leave it out.
    if (::access(spec.path.c_str(), X_OK) != 0) {
      throw vproc::SysError("access", "vproc-hook " + spec.path, errno);
    }
    edit_bundle(*inv.bundle, spec);
  } catch (const std::exception& e) {
    vproc::log_line("vproc-runtime: bundle " + bundle + ": " + e.what() +
                    "; the container starts without vproc (fail-open)");
  }
}

[[noreturn]] void exec_runtime(const std::string& path, const Invocation& inv) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(inv.own.runtime.c_str()));
  for (const std::string& a : inv.runtime_args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  ::execv(path.c_str(), argv.data());
  int err = errno;
  vproc::log_line("vproc-runtime: execv " + path + ": " + std::strerror(err));
  std::exit(err == ENOENT ? 127 : 126);
}

int runtime_main(int argc, char** argv) {
  Invocation inv;
  try {
    inv = split_args(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const vproc::InputError& e) {
    std::cerr << "vproc-runtime: " << e.what() << "\n";
    return 2;
  }
  if (inv.own.help) {
    std::cout << kUsage;
    return 0;
  }
  if (inv.own.version) {
    std::cout << "vproc-runtime " << VPROC_VERSION << "\n";
    return 0;
  }
  const char* path_env = std::getenv("PATH");
  auto runtime = find_program(inv.own.runtime, path_env ? path_env : kDefaultPath);
  if (!runtime || ::access(runtime->c_str(), F_OK) != 0) {
    std::cerr << "vproc-runtime: the real runtime " << inv.own.runtime << " was not found"
              << (runtime ? "" : " on PATH") << " (set it with --vproc-runtime=PATH)\n";
    return 127;
  }
  if (inv.bundle) add_hook(inv);
  exec_runtime(*runtime, inv);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return runtime_main(argc, argv);
  } catch (const std::exception& e) {
    // Allocation failures only: everything else is handled above.
    std::cerr << "vproc-runtime: " << e.what() << "\n";
    return 1;
  }
}
