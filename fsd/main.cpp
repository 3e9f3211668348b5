// vprocd: serves container-true /proc files over FUSE. See README.md.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/io.h"
#include "common/log.h"
#include "common/sys_error.h"
#include "fsd/fuse/fs.h"
#include "fsd/mountpoint.h"
#include "fsd/sandbox.h"
#include "fsd/view/view.h"

namespace {

struct SessionDeleter {
  void operator()(fuse_session* se) const { fuse_session_destroy(se); }
};
struct LoopConfigDeleter {
  void operator()(fuse_loop_config* c) const { fuse_loop_cfg_destroy(c); }
};

struct Config {
  std::string mountpoint = "/var/lib/vproc";
  std::string cgroup_root = "/sys/fs/cgroup";
  std::string proc_root = "/proc";
  std::string cpu_view = "quota";
  bool no_loadavg = false;
  bool no_sandbox = false;
  unsigned threads = 8;
  size_t max_open = vproc::fuse::FsContext::kDefaultMaxHandles;
  double cache_timeout = 60.0;
};

int run(const Config& cfg) {
  using namespace vproc;
  if (::access("/dev/fuse", R_OK | W_OK) != 0) {
    throw SysError("open", "/dev/fuse", std::string(std::strerror(errno)) +
                                            " (load the fuse module, or give the container "
                                            "--device /dev/fuse)");
  }
  view::Options opts;
  opts.cpu_view = cfg.cpu_view == "cpuset" ? core::CpuView::kCpuset : core::CpuView::kQuota;
  opts.loadavg = !cfg.no_loadavg;
  view::ViewService views(open_at(AT_FDCWD, cfg.cgroup_root, O_RDONLY | O_DIRECTORY),
                          open_at(AT_FDCWD, cfg.proc_root, O_RDONLY | O_DIRECTORY), opts);
  log_line("vprocd " VPROC_VERSION ": " + cgroup::describe(views.layout()) + ", cpu view " +
           cfg.cpu_view + (opts.loadavg ? ", loadavg on" : ", loadavg off"));

  fuse::FsContext ctx{&views, fuse::Tree(views.host_has_pressure()), cfg.cache_timeout, {},
                      cfg.max_open, {}};
  ::clock_gettime(CLOCK_REALTIME, &ctx.started);

  prepare_mountpoint(cfg.mountpoint);

  std::vector<std::string> argv_s = {
      "vprocd", "-o",
      "ro,allow_other,default_permissions,fsname=vprocd,subtype=vprocd"};
  std::vector<char*> argv;
  for (auto& s : argv_s) argv.push_back(s.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  std::unique_ptr<fuse_session, SessionDeleter> se(
      fuse_session_new(&args, &fuse::ops(), sizeof(fuse_lowlevel_ops), &ctx));
  if (!se) throw SysError("fuse_session_new", cfg.mountpoint, "libfuse refused the options");
  if (fuse_set_signal_handlers(se.get()) != 0) {
    throw SysError("fuse_set_signal_handlers", "", errno);
  }
  if (fuse_session_mount(se.get(), cfg.mountpoint.c_str()) != 0) {
    fuse_remove_signal_handlers(se.get());
    throw SysError("mount", cfg.mountpoint, "the FUSE mount failed (see libfuse's message above)");
  }
  log_line("vprocd: serving " + cfg.mountpoint);

  // Confine before any worker or sampler thread exists: capabilities are
  // per thread and new threads inherit the creator's.
  if (!cfg.no_sandbox) {
    drop_capabilities();
    load_seccomp_filter(build_seccomp_filter());
  }
  views.start_sampler();

  std::unique_ptr<fuse_loop_config, LoopConfigDeleter> loop(fuse_loop_cfg_create());
  fuse_loop_cfg_set_clone_fd(loop.get(), 0);
  // Idle workers stay (at most cfg.threads exist): retiring them costs a
  // clone per request under load.
  fuse_loop_cfg_set_idle_threads(loop.get(), cfg.threads);
  fuse_loop_cfg_set_max_threads(loop.get(), cfg.threads);
  int rc = fuse_session_loop_mt(se.get(), loop.get());

  fuse_session_unmount(se.get());
  fuse_remove_signal_handlers(se.get());
  log_line("vprocd: unmounted " + cfg.mountpoint + ", exiting");
  // libfuse reports the signal that ended the loop as its result.
  return rc == 0 || rc == SIGTERM || rc == SIGINT || rc == SIGHUP ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  CLI::App app{"vprocd: a FUSE server that renders /proc files from the reader's cgroup"};
  app.set_version_flag("--version", std::string("vprocd ") + VPROC_VERSION);
  app.add_option("--mountpoint", cfg.mountpoint, "where to serve proc/ and sys/")
      ->capture_default_str();
  app.add_option("--cgroup-root", cfg.cgroup_root, "cgroup tree to read (test seam)")
      ->capture_default_str();
  app.add_option("--proc-root", cfg.proc_root, "host procfs to read (test seam)")
      ->capture_default_str();
  app.add_option("--cpu-view", cfg.cpu_view,
                 "quota: visible CPUs = ceil(quota/period) within the cpuset; cpuset: the "
                 "cpuset only")
      ->check(CLI::IsMember({"quota", "cpuset"}))
      ->capture_default_str();
  app.add_flag("--no-loadavg", cfg.no_loadavg, "serve the host's loadavg; no sampler thread");
  app.add_flag("--no-sandbox", cfg.no_sandbox,
               "skip dropping capabilities and the seccomp filter (debugging only)");
  app.add_option("--threads", cfg.threads, "maximum FUSE worker threads")
      ->check(CLI::Range(1u, 64u))
      ->capture_default_str();
  app.add_option("--max-open", cfg.max_open,
                 "files open at once across all readers; more fail with ENFILE")
      ->check(CLI::Range(size_t{1}, size_t{1} << 20))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    return run(cfg);
  } catch (const std::exception& e) {
    vproc::log_line(std::string("vprocd: ") + e.what());
    return 1;
  }
}
