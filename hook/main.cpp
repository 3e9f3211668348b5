// vproc-hook: OCI runtime hook that bind-mounts vprocd's files over the
// container's /proc/meminfo etc. See docs/hook.md. Errors are caught here, at
// the program's boundary (stage_main, attach_main): one clear line (stderr,
// syslog, optional --log-file) naming the container, exit status by policy
// (fail-open: 0; fail-closed: 1). The one other catch here is the
// registry write's, which applies that policy to a half-done injection.
//
// `vproc-hook attach --pid PID | --all` (hook/attach_cmd.h) injects into
// containers that are already running; it reads no stdin, prints one line per
// container and exits 1 when any of them failed.
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <iostream>
#include <optional>
#include <string>

#include "hook/attach_cmd.h"
#include "hook/cpu_dir.h"
#include "hook/plan.h"
#include "hook/runtimes.h"
#include "hook/view.h"
#include "lib/base/io.h"
#include "lib/base/log.h"
#include "lib/base/sys_error.h"
#include "lib/inject/attach.h"
#include "lib/proc/identity.h"
#include "lib/registry/registry.h"

namespace {

using vproc::Deadline;

struct Options {
  std::string mountpoint = "/var/lib/vproc";
  std::string registry_dir = "/run/vproc";
  std::string log_file;
  std::string stage = "create";
  std::string policy = "opt-out";
  int timeout_ms = 2000;
  bool fail_closed = false;
  std::string view = "container";
};

vproc::hook::Policy policy_of(const Options& opt) {
  return opt.policy == "opt-in" ? vproc::hook::Policy::kOptIn : vproc::hook::Policy::kOptOut;
}

std::string g_log_file;

void log(const std::string& line) {
  vproc::log_line(line);
  if (g_log_file.empty()) return;
  int fd = ::open(g_log_file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return;
  std::string s = line + "\n";
  ssize_t ignored = ::write(fd, s.data(), s.size());
  (void)ignored;
  ::close(fd);
}

// The runtime writes the state and closes stdin; a runtime that never closes
// it must not hang us past the deadline.
std::string read_stdin(Deadline deadline) {
  std::string out;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    pollfd pfd{STDIN_FILENO, POLLIN, 0};
    int r = ::poll(&pfd, 1, left < 0 ? 0 : static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw vproc::SysError("poll", "stdin", errno);
    if (r == 0) throw vproc::SysError(ETIMEDOUT, "timed out reading the OCI state on stdin");
    char buf[8192];
    ssize_t n = vproc::retry_eintr([&] { return ::read(STDIN_FILENO, buf, sizeof buf); });
    if (n < 0) throw vproc::SysError("read", "stdin", errno);
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > (1u << 20)) throw vproc::SysError(EFBIG, "OCI state on stdin is over 1 MiB");
  }
}

// Who the container's init is now (start time and mount namespace).
vproc::ProcessIdentity identify_init(int pid) {
  auto who = vproc::identify(pid);
  if (!who) throw vproc::SysError(ESRCH, "container init pid " + std::to_string(pid) + " is gone");
  return *who;
}

// Records an injected container for a later re-attach. Failing to is fatal
// only under fail-closed, and then this run's mounts (`mounted`) go too.
void register_container(const Options& opt, const vproc::RegistryEntry& entry,
                        const std::vector<std::string>& mounted) {
  try {
    vproc::write_entry(opt.registry_dir, entry);
  } catch (const std::exception& e) {
    if (opt.fail_closed) {
      vproc::undo_mounts(entry.pid, entry.rootfs, mounted);
      throw;
    }
    // The mounts are whole and correct; only a later re-attach will not know them.
    log("vproc-hook: container " + entry.id + ": " + e.what() +
        "; the files stay injected but unregistered (fail-open)");
  }
}

// What to ask the injection worker for: the plan's files and, when they
// include the CPU directory's, the container's CPUs.
// Sets entry.container_view when the files come from the view.
vproc::AttachRequest request_for(const Options& opt, const vproc::hook::State& st,
                                 const vproc::hook::Plan& plan, vproc::RegistryEntry& entry) {
  vproc::AttachRequest req;
  req.pid = st.pid;
  req.pid_start_time = entry.pid_start_time;
  req.rootfs = entry.rootfs;
  req.mountpoint = opt.mountpoint;
  for (const vproc::hook::PlannedFile& f : plan.files) {
    req.files.push_back({f.source, f.target, f.optional});
  }
  std::string note = vproc::hook::plan_cpu_dir(req, opt.registry_dir);
  if (!note.empty()) log("vproc-hook: container " + st.id + ": " + note);
  if (opt.view == "container") {
    note = vproc::hook::use_container_view(req, opt.registry_dir, entry.pid_start_time);
    if (!note.empty()) log("vproc-hook: container " + st.id + ": " + note);
    entry.container_view = note.empty();
  }
  return req;
}

// Mounts the plan's files into the container and registers what was mounted.
void inject(const Options& opt, Deadline deadline, const vproc::hook::State& st,
            const vproc::hook::Plan& plan) {
  using namespace vproc;
  ProcessIdentity who = identify_init(st.pid);
  if (is_host_mount_ns(who.mnt_ns)) {
    throw SysError(EPERM,
                   "pid " + std::to_string(st.pid) + " shares the host's mount namespace (mnt:[" +
                       std::to_string(who.mnt_ns) + "]); refusing to mount over the host's /proc");
  }
  RegistryEntry entry;
  entry.id = st.id;
  entry.pid = st.pid;
  entry.pid_start_time = who.start_time;
  entry.mnt_ns = who.mnt_ns;
  entry.rootfs = before_pivot(st.pid) ? plan.rootfs : "/";
  entry.mountpoint = opt.mountpoint;

  auto outcomes = attach_bounded(request_for(opt, st, plan, entry), deadline);
  std::vector<std::string> mounted;
  for (const InjectOutcome& o : outcomes) {
    if (o.status == InjectStatus::kMounted) mounted.push_back(o.target);
    if (!recorded(o)) {
      log("vproc-hook: container " + st.id + ": skipped " + o.target + ": " + o.reason);
    }
  }
  if (record_outcomes(entry, outcomes)) register_container(opt, entry, mounted);
}

// The hook proper: one OCI state on stdin. Returns the exit status.
int run(const Options& opt, Deadline deadline, const std::string& state_text, std::string* id) {
  using namespace vproc;
  using namespace vproc::hook;
  if (std::string peek = peek_id(state_text); !peek.empty()) *id = peek;
  State st = parse_state(state_text);
  *id = st.id;
  if (opt.stage == "poststop" || st.status == "stopped") {
    remove_entry(opt.registry_dir, st.id);
    return 0;
  }
  auto en = st.annotations.find("vproc.io/enable");
  if (en != st.annotations.end() && en->second == "false") return 0;
  if (st.bundle.empty()) throw InputError("state: missing \"bundle\"");
  std::string cfg_path = st.bundle + "/config.json";
  auto cfg_text = vproc::read_file_at(AT_FDCWD, cfg_path);
  if (!cfg_text) throw InputError(cfg_path + ": does not exist");
  Config cfg = parse_config(*cfg_text);
  // Under opt-in, a container without vproc.io/enable=true ends here, quietly:
  // the hook may sit in every container's spec.
  Plan plan = make_plan(st, cfg, opt.mountpoint, policy_of(opt));
  if (plan.inject) inject(opt, deadline, st, plan);
  return 0;
}

// The options of the hook, which `attach` shares.
void add_hook_options(CLI::App& app, Options& opt) {
  app.set_version_flag("--version", std::string("vproc-hook ") + VPROC_VERSION);
  app.set_config("--config", "/etc/vproc/hook.conf",
                 "Config file (TOML/INI keys as the long options, e.g. fail-closed=true)");
  // The stage stays a positional (the hooks.d files and every runtime config
  // say `vproc-hook create` / `vproc-hook poststop`); CLI11 matches a
  // subcommand name before a positional, so `attach` is never a stage.
  app.add_option("stage", opt.stage,
                 "create (default: inject) or poststop (drop the registry entry)")
      ->check(CLI::IsMember({"create", "poststop"}));
  app.add_option("--mountpoint", opt.mountpoint, "vprocd's mountpoint")
      ->envname("VPROC_MOUNTPOINT")
      ->capture_default_str();
  app.add_option("--registry-dir", opt.registry_dir, "Registry of attached containers")
      ->capture_default_str();
  app.add_option("--timeout-ms", opt.timeout_ms,
                 "Internal deadline for the whole hook (attach: for each container)")
      ->check(CLI::Range(1, 60000))
      ->capture_default_str();
  app.add_option("--policy", opt.policy,
                 "opt-out: inject unless vproc.io/enable=false; opt-in: only vproc.io/enable=true")
      ->check(CLI::IsMember({"opt-in", "opt-out"}))
      ->envname("VPROC_HOOK_POLICY")
      ->capture_default_str();
  app.add_flag("--fail-closed", opt.fail_closed,
               "Fail container creation when injection fails (default: fail-open)")
      ->envname("VPROC_HOOK_FAIL_CLOSED");
  app.add_option("--log-file", opt.log_file, "Also append log lines to this file");
  app.add_option("--view", opt.view,
                 "container: the container's own files from vprocd's container view (the "
                 "per-reader files when vprocd serves none); reader: the per-reader files")
      ->check(CLI::IsMember({"reader", "container"}))
      ->envname("VPROC_HOOK_VIEW")
      ->capture_default_str();
}

CLI::App* add_attach_command(CLI::App& app, vproc::hook::AttachCommand& cmd) {
  CLI::App* attach = app.add_subcommand(
      "attach",
      "Inject vprocd's files into running containers (found from the runtimes' state on disk)");
  attach->fallthrough();  // the hook-wide options above work after `attach` too
  CLI::Option* pid_opt =
      attach->add_option("--pid", cmd.pid, "A container's init pid, or any pid in the container");
  pid_opt->check(CLI::Range(1, static_cast<int>(vproc::kMaxPid)));
  CLI::Option* all_opt =
      attach->add_flag("--all", cmd.all, "Every running container the runtimes recorded");
  pid_opt->excludes(all_opt);
  std::string default_roots;
  for (const std::string& r : vproc::hook::kDefaultRuntimeRoots) {
    default_roots += (default_roots.empty() ? "" : " ") + r;
  }
  attach
      ->add_option("--runtime-root", cmd.runtime_roots,
                   "Runtime state directory to scan; repeat for more (replaces the defaults: " +
                       default_roots + ")")
      ->allow_extra_args(false);
  attach->add_flag("--dry-run", cmd.dry_run, "List what would be attached; mount nothing");
  return attach;
}

// Parses the command line. Returns the exit status when that ends the run:
// --help and --version 0, any usage error 2, whatever the policy.
std::optional<int> parse_args(CLI::App& app, const CLI::App& attach, const Options& opt,
                              const vproc::hook::AttachCommand& cmd, int argc, char** argv) {
  try {
    app.parse(argc, argv);
    if (attach && !cmd.all && cmd.pid == 0) {
      throw CLI::RequiredError("attach: --pid PID or --all");
    }
    if (attach && app.count("stage") != 0) {
      throw CLI::ValidationError("stage", "a stage (" + opt.stage + ") makes no sense with attach");
    }
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return std::nullopt;
}

// `vproc-hook attach`: per-container failures are reported (and caught) by
// run_attach_command; what gets here stopped the whole command.
int attach_main(const Options& opt, vproc::hook::AttachCommand cmd) {
  cmd.mountpoint = opt.mountpoint;
  cmd.registry_dir = opt.registry_dir;
  cmd.timeout_ms = opt.timeout_ms;
  cmd.policy = policy_of(opt);
  cmd.container_view = opt.view == "container";
  try {
    return vproc::hook::run_attach_command(cmd, std::cout, log);
  } catch (const std::exception& e) {
    log(std::string("vproc-hook: attach: ") + e.what());
    return 1;
  }
}

// The hook: any error is one line naming the container, and the exit status
// is the policy's.
int stage_main(const Options& opt) {
  Deadline deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(opt.timeout_ms);
  std::string id = "?";
  try {
    return run(opt, deadline, read_stdin(deadline), &id);
  } catch (const std::exception& e) {
    std::string policy = opt.fail_closed ? "failing container creation (fail-closed)"
                                         : "the container starts with the host's /proc (fail-open)";
    if (opt.stage == "poststop") policy = "poststop cleanup incomplete";
    log("vproc-hook: container " + id + ": " + e.what() + "; " + policy);
    return opt.fail_closed ? 1 : 0;
  }
}

int hook_main(int argc, char** argv) {
  Options opt;
  vproc::hook::AttachCommand attach_cmd;
  CLI::App app{
      "vproc-hook: OCI runtime hook that injects vprocd's files into a container.\n"
      "As a hook (stage create or poststop) it reads the OCI state JSON on stdin;\n"
      "`vproc-hook attach` injects into containers that are already running."};
  add_hook_options(app, opt);
  CLI::App* attach = add_attach_command(app, attach_cmd);
  if (auto status = parse_args(app, *attach, opt, attach_cmd, argc, argv)) return *status;
  g_log_file = opt.log_file;
  vproc::log_to_syslog("vproc-hook");
  return *attach ? attach_main(opt, attach_cmd) : stage_main(opt);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return hook_main(argc, argv);
  } catch (...) {
    // Only allocation failures get here (everything else is handled, and
    // logged, in attach_main and stage_main); there is no policy to consult.
    return 1;
  }
}
