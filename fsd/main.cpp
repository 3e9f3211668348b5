// vprocd: serves container-true /proc files over FUSE. See README.md, and
// fsd/takeover.h for restarts.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "fsd/cview_mount.h"
#include "fsd/fuse/fs.h"
#include "fsd/fuse/uring.h"
#include "fsd/keeper.h"
#include "fsd/mountpoint.h"
#include "fsd/sandbox.h"
#include "fsd/takeover.h"
#include "fsd/unmounter.h"
#include "fsd/view/view.h"
#include "lib/base/io.h"
#include "lib/base/log.h"
#include "lib/base/sys_error.h"
#include "lib/base/unique_fd.h"
#include "lib/inject/mount_inject.h"
#include "lib/registry/adopt.h"
#include "lib/registry/reattach.h"
#include "lib/registry/registry.h"

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
  std::string registry_dir = "/run/vproc";
  bool takeover = false;
  bool detach = false;
  bool no_reattach = false;
  double drain_timeout = 30.0;
  std::string io_uring = "auto";
  bool container_view = true;
  unsigned view_max_age_ms = 100;
};

// --detach: the foreground process waits here until the daemon (its child)
// reports ready ('R' on the pipe) or fails (EOF). Returns the exit status.
int wait_for_daemon(int rd, pid_t child) {
  char c = 0;
  ssize_t n = vproc::retry_eintr([&] { return ::read(rd, &c, 1); });
  if (n == 1 && c == 'R') return 0;
  int status = 0;
  if (::waitpid(child, &status, WNOHANG) == child) {
    return WIFEXITED(status) && WEXITSTATUS(status) != 0 ? WEXITSTATUS(status) : 1;
  }
  vproc::log_line("vprocd: the detached daemon did not finish starting (see its log)");
  return 1;
}

void send_ready(int ready_fd, pid_t daemon) {
  if (ready_fd >= 0) {
    ssize_t ignored = ::write(ready_fd, "R", 1);
    (void)ignored;
  }
  vproc::notify_service_manager("READY=1\nMAINPID=" + std::to_string(daemon));
}

struct AttacherArgs {
  std::string mountpoint;
  std::string registry_dir;
  std::string view_dir;  // empty without --container-view
  int source_root;
  int ready_fd;
  pid_t daemon;
  // Takeover only: the old instance, and when its host mount was detached.
  std::optional<vproc::PidRecord> old;
  std::chrono::steady_clock::time_point detached_at;
  std::vector<dev_t> old_devs;  // takeover: the old instance's connections
};

std::string report_line(const vproc::ReattachReport& r, long ms) {
  return std::to_string(r.attached) + " attached, " + std::to_string(r.pruned) + " pruned, " +
         std::to_string(r.failed) + " failed, " + std::to_string(r.skipped) + " skipped in " +
         std::to_string(ms) + " ms";
}

// The device of the filesystem at dirfd/path, without asking it (a hung
// FUSE server cannot block this); 0 when there is nothing there.
dev_t dev_at(int dirfd, const std::string& path) {
  struct statx stx {};
  if (::statx(dirfd, path.c_str(), AT_EMPTY_PATH | AT_STATX_DONT_SYNC | AT_SYMLINK_NOFOLLOW, 0,
              &stx) != 0) {
    return 0;
  }
  return makedev(stx.stx_dev_major, stx.stx_dev_minor);
}

// Containers with no record whose mounts name a dead or departing vprocd
// (lib/registry/adopt.h): `-v` binds, hostPath volumes, rootless podman.
void adopt_pass(const AttacherArgs& a, const vproc::ReattachReport& registered) {
  using namespace vproc;
  AdoptOptions o;
  o.source_root = a.source_root;
  o.own_devs = {dev_at(a.source_root, "")};
  if (!a.view_dir.empty()) o.own_devs.push_back(dev_at(AT_FDCWD, a.view_dir));
  o.old_devs = a.old_devs;
  o.skip_ns = registered.namespaces;
  auto t0 = std::chrono::steady_clock::now();
  AdoptReport r = adopt_unregistered(o);
  long ms = static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count());
  for (const std::string& l : r.lines) log_line("vprocd: adopt: " + l);
  log_line("vprocd: adopt: " + std::to_string(r.namespaces) + " unregistered container(s), " +
           std::to_string(r.files) + " file(s) replaced, " + std::to_string(r.failed) +
           " failed in " + std::to_string(ms) + " ms");
}

// The attacher: a forked, single-threaded, unconfined child of the daemon.
[[noreturn]] void run_attacher(const AttacherArgs& a) {
  using namespace vproc;
  using Clock = std::chrono::steady_clock;
  try {
    ReattachOptions opt;
    opt.registry_dir = a.registry_dir;
    opt.view_dir = a.view_dir;
    opt.mountpoint = a.mountpoint;
    opt.source_root = a.source_root;
    auto t0 = Clock::now();
    ReattachReport r = reattach_registry(opt);
    long ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
    for (const std::string& l : r.lines) log_line("vprocd: re-attach: " + l);
    log_line("vprocd: re-attach: " + report_line(r, ms));
    send_ready(a.ready_fd, a.daemon);
    adopt_pass(a, r);
    if (a.old) {
      // A hook that cloned the old instance's files just before its mount was
      // detached registers its container within its deadline (2 s by
      // default): a second pass picks those up before the old one goes.
      std::this_thread::sleep_until(a.detached_at + std::chrono::milliseconds(2500));
      t0 = Clock::now();
      ReattachReport r2 = reattach_registry(opt);
      ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
      for (const std::string& l : r2.lines) log_line("vprocd: re-attach: " + l);
      log_line("vprocd: takeover: second pass: " + report_line(r2, ms));
      adopt_pass(a, r2);
      if (signal_recorded(*a.old, SIGUSR2)) {
        log_line("vprocd: takeover: told the old vprocd (pid " + std::to_string(a.old->pid) +
                 ") to drain and exit");
      } else {
        log_line("vprocd: takeover: the old vprocd (pid " + std::to_string(a.old->pid) +
                 ") is already gone");
      }
    }
    ::_exit(0);
  } catch (const std::exception& e) {
    log_line(std::string("vprocd: re-attach failed: ") + e.what());
  }
  ::_exit(1);
}

// Moves a freshly mounted vprocd (at `staging`) under the live one at
// `mountpoint`, then detaches the old mount. Returns a handle on the new
// mount's root. The mountpoint shows a live vprocd at every instant on
// Linux >= 6.5; older kernels cannot stack beneath, so the old mount goes
// first and the path is briefly empty (containers are unaffected: they bind
// files, not the mountpoint).
vproc::UniqueFd slide_beneath(const std::string& staging, const std::string& mountpoint) {
  using namespace vproc;
  std::uint64_t old_top = mount_id_at(AT_FDCWD, mountpoint);
  int t = ::open_tree(AT_FDCWD, staging.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  if (t < 0) throw SysError("open_tree", staging, errno);
  UniqueFd tree(t);
  ::umount2(staging.c_str(), MNT_DETACH);
  ::rmdir(staging.c_str());
  auto detach_old = [&] {
    if (mount_id_at(AT_FDCWD, mountpoint) != old_top) {
      throw SysError("takeover", mountpoint, "the mount there changed while taking over");
    }
    if (::umount2(mountpoint.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) != 0) {
      throw SysError("umount2", mountpoint, errno);
    }
  };
  if (kernel_has_move_beneath()) {
    if (::move_mount(tree.get(), "", AT_FDCWD, mountpoint.c_str(),
                     MOVE_MOUNT_F_EMPTY_PATH | kMoveMountBeneath) != 0) {
      throw SysError("move_mount beneath", mountpoint, errno);
    }
    detach_old();
  } else {
    detach_old();
    if (::move_mount(tree.get(), "", AT_FDCWD, mountpoint.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0) {
      throw SysError("move_mount", mountpoint, errno);
    }
  }
  return tree;
}

void require_dev_fuse() {
  if (::access("/dev/fuse", R_OK | W_OK) != 0) {
    throw vproc::SysError("open", "/dev/fuse",
                          std::string(std::strerror(errno)) +
                              " (load the fuse module, or give the container "
                              "--device /dev/fuse)");
  }
}

vproc::view::Options view_options(const Config& cfg) {
  vproc::view::Options opts;
  opts.cpu_view =
      cfg.cpu_view == "cpuset" ? vproc::core::CpuView::kCpuset : vproc::core::CpuView::kQuota;
  opts.loadavg = !cfg.no_loadavg;
  opts.registry_dir = cfg.registry_dir;
  return opts;
}

// --detach: the foreground process only reports how starting went; it exits
// here, and the daemon (its child) goes on. Returns the daemon's end of the
// ready pipe (none without --detach).
vproc::UniqueFd detach_if_asked(bool detach) {
  using vproc::SysError;
  if (!detach) return {};
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) throw SysError("pipe2", "", errno);
  pid_t child = ::fork();
  if (child < 0) throw SysError("fork", "", errno);
  if (child > 0) {
    ::close(p[1]);
    vproc::UniqueFd rd(p[0]);
    std::exit(wait_for_daemon(rd.get(), child));
  }
  ::close(p[0]);
  ::setsid();
  return vproc::UniqueFd(p[1]);
}

// Where to mount: the mountpoint itself, or with a live vprocd there
// (--takeover), a private staging directory to slide beneath it from.
struct Target {
  std::string mount_at;
  std::optional<vproc::PidRecord> old;  // the instance taken over
  std::vector<dev_t> old_devs;          // its connections (main mount and view)
};

void make_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    throw vproc::SysError("mkdir", path, errno);
  }
}

Target choose_target(const Config& cfg) {
  using namespace vproc;
  Target t{cfg.mountpoint, std::nullopt, {}};
  if (prepare_mountpoint(cfg.mountpoint, cfg.takeover) != MountpointState::kLive) return t;
  t.old = read_pid_record(cfg.registry_dir);
  if (!t.old || t.old->mountpoint != cfg.mountpoint ||
      !same_process(t.old->pid, t.old->start_time, /*mnt_ns=*/0)) {
    throw SysError("takeover", cfg.mountpoint,
                   "a vprocd serves there but " + pid_record_path(cfg.registry_dir) +
                       " does not name it (started with another --registry-dir?)");
  }
  for (const std::string& p : {cfg.mountpoint, cfg.registry_dir + "/view"}) {
    if (dev_t d = dev_at(AT_FDCWD, p)) t.old_devs.push_back(d);
  }
  make_dir(cfg.registry_dir);
  t.mount_at = cfg.registry_dir + "/takeover." + std::to_string(::getpid());
  make_dir(t.mount_at);
  log_line("vprocd: taking over " + cfg.mountpoint + " from pid " + std::to_string(t.old->pid));
  return t;
}

// The FUSE session, with libfuse's signal handlers (SIGTERM, SIGINT, SIGHUP
// end the session loop) installed while it lives.
class Session {
 public:
  // `mountpoint` names the mount in errors.
  Session(vproc::fuse::FsContext& ctx, const std::string& mountpoint) {
    std::vector<std::string> argv_s = {
        "vprocd", "-o", "ro,allow_other,default_permissions,fsname=vprocd,subtype=vprocd"};
    std::vector<char*> argv;
    for (auto& s : argv_s) argv.push_back(s.data());
    fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
    se_.reset(fuse_session_new(&args, &vproc::fuse::ops(), sizeof(fuse_lowlevel_ops), &ctx));
    if (!se_) throw vproc::SysError("fuse_session_new", mountpoint, "libfuse refused the options");
    if (fuse_set_signal_handlers(se_.get()) != 0) {
      throw vproc::SysError("fuse_set_signal_handlers", "", errno);
    }
    handlers_ = true;
  }
  ~Session() { remove_signal_handlers(); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  fuse_session* get() const { return se_.get(); }

  // Mounts at t.mount_at; `mountpoint` names the mount in errors.
  void mount(const Target& t, const std::string& mountpoint) {
    if (fuse_session_mount(se_.get(), t.mount_at.c_str()) == 0) return;
    remove_signal_handlers();
    if (t.mount_at != mountpoint) ::rmdir(t.mount_at.c_str());
    throw vproc::SysError("mount", mountpoint,
                          "the FUSE mount failed (see libfuse's message above)");
  }

  void remove_signal_handlers() {
    if (handlers_) fuse_remove_signal_handlers(se_.get());
    handlers_ = false;
  }

  // Serves until a signal or a handed-over keeper ends the loop; returns
  // libfuse's result.
  int loop(unsigned threads) {
    std::unique_ptr<fuse_loop_config, LoopConfigDeleter> cfg(fuse_loop_cfg_create());
    fuse_loop_cfg_set_clone_fd(cfg.get(), 0);
    // Idle workers stay (at most `threads` exist): retiring them costs a
    // clone per request under load.
    fuse_loop_cfg_set_idle_threads(cfg.get(), threads);
    fuse_loop_cfg_set_max_threads(cfg.get(), threads);
    return fuse_session_loop_mt(se_.get(), cfg.get());
  }

 private:
  std::unique_ptr<fuse_session, SessionDeleter> se_;
  bool handlers_ = false;
};

// Our own mount once it is at the mountpoint.
struct OwnMount {
  vproc::UniqueFd root;  // whatever is stacked on the path later
  std::uint64_t id = 0;
  std::chrono::steady_clock::time_point detached_at;  // takeover: the old mount's
};

OwnMount take_mountpoint(const Target& t, const std::string& mountpoint) {
  using namespace vproc;
  OwnMount own;
  if (t.old) {
    own.root = slide_beneath(t.mount_at, mountpoint);
    own.detached_at = std::chrono::steady_clock::now();
  } else {
    own.root = open_at(AT_FDCWD, mountpoint, O_PATH | O_DIRECTORY);
  }
  own.id = mount_id_at(own.root.get(), "");
  return own;
}

// Re-attach from a child forked now, while this process has one thread and
// no seccomp filter. It opens our files through own.root, which needs the
// session loop to answer. Returns the child, or -1 when there is none (then
// this process reports ready itself).
pid_t fork_attacher(const Config& cfg, const Target& t, const OwnMount& own, fuse_session* se,
                    const vproc::ViewMount* cview, int ready_fd) {
  if (cfg.no_reattach && !t.old) {
    send_ready(ready_fd, ::getpid());
    return -1;
  }
  pid_t attacher = ::fork();
  if (attacher < 0) throw vproc::SysError("fork", "attacher", errno);
  if (attacher == 0) {
    ::close(fuse_session_fd(se));  // never keep a connection alive
    if (cview) ::close(cview->fd());
    AttacherArgs a{cfg.mountpoint, cfg.registry_dir, cview ? cview->dir() : "",
                   own.root.get(), ready_fd,         ::getppid(),
                   t.old,          own.detached_at,  t.old_devs};
    run_attacher(a);
  }
  return attacher;
}

// The keeper that SIGUSR2 (a successor took over) reaches; null when none.
std::atomic<vproc::Keeper*> g_keeper{nullptr};
static_assert(std::atomic<vproc::Keeper*>::is_always_lock_free);

void on_drain_signal(int) {
  if (vproc::Keeper* k = g_keeper.load()) k->request_drain();
}

// Routes SIGUSR2 to a keeper while this lives.
class DrainSignal {
 public:
  explicit DrainSignal(vproc::Keeper& keeper) {
    g_keeper.store(&keeper);
    struct sigaction sa {};
    sa.sa_handler = on_drain_signal;
    ::sigemptyset(&sa.sa_mask);
    if (::sigaction(SIGUSR2, &sa, nullptr) != 0) {
      g_keeper.store(nullptr);
      throw vproc::SysError("sigaction", "SIGUSR2", errno);
    }
  }
  ~DrainSignal() { g_keeper.store(nullptr); }
  DrainSignal(const DrainSignal&) = delete;
  DrainSignal& operator=(const DrainSignal&) = delete;
};

vproc::KeeperHooks keeper_hooks(const vproc::fuse::FsContext& ctx) {
  const pid_t main_tid = static_cast<pid_t>(::syscall(SYS_gettid));
  return {
      [&ctx] { return ctx.activity.load(); },
      [&ctx] { return ctx.handles.size(); },
      // SIGTERM to the thread running the session loop ends it.
      [main_tid] { ::syscall(SYS_tgkill, ::getpid(), main_tid, SIGTERM); },
  };
}

// Confine before any worker or sampler thread exists: capabilities are per
// thread and new threads inherit the creator's.
void confine(const Config& cfg) {
  if (!cfg.no_sandbox) vproc::confine_serving();
}

// The unmounter (fsd/unmounter.h) for our mount and the container view's:
// after it, this process needs no CAP_SYS_ADMIN.
std::unique_ptr<vproc::Unmounter> fork_unmounter(const std::string& mountpoint, const OwnMount& own,
                                                 const vproc::ViewMount* cview) {
  std::vector<vproc::OwnedMount> mounts;
  // The view first, quietly, as ViewMount::stop() did it.
  if (cview) mounts.push_back({cview->dir(), vproc::mount_id_at(AT_FDCWD, cview->dir()), false});
  mounts.push_back({mountpoint, own.id, true});
  return std::make_unique<vproc::Unmounter>(mounts);
}

// After the session loop: unmount our own mounts unless handed over. Returns
// the exit status.
int leave(vproc::Unmounter& unmounter, bool handed_over, int rc) {
  using namespace vproc;
  if (handed_over) {
    // The successor detached our mount and owns the mountpoint and the pid
    // record; the connection ends when this process exits.
    unmounter.release();
    log_line("vprocd: handed over to the new vprocd, exiting");
    return 0;
  }
  // Only our own mounts: a successor may be stacked on the path.
  if (!unmounter.unmount()) log_line("vprocd: the unmounter did not answer; left mounted");
  // libfuse reports the signal that ended the loop as its result.
  return rc == 0 || rc == SIGTERM || rc == SIGINT || rc == SIGHUP ? 0 : 1;
}

int run(const Config& cfg) {
  using namespace vproc;
  require_dev_fuse();
  const view::Options opts = view_options(cfg);
  view::ViewService views(open_at(AT_FDCWD, cfg.cgroup_root, O_RDONLY | O_DIRECTORY),
                          open_at(AT_FDCWD, cfg.proc_root, O_RDONLY | O_DIRECTORY), opts);
  log_line("vprocd " VPROC_VERSION ": " + cgroup::describe(views.layout()) + ", cpu view " +
           cfg.cpu_view + (opts.loadavg ? ", loadavg on" : ", loadavg off"));
  fuse::FsContext ctx{
      &views, fuse::Tree(views.host_has_pressure()), cfg.cache_timeout, {}, cfg.max_open, {}};
  ::clock_gettime(CLOCK_REALTIME, &ctx.started);
  // One rendering at a time per tenant and 8 workers: measured under ASan,
  // 2 per tenant kept victims no better than none (docs/SECURITY.md).
  ctx.gate.set_per_tenant(cfg.threads / 8);

  UniqueFd ready_w = detach_if_asked(cfg.detach);
  const Target target = choose_target(cfg);
  Session session(ctx, cfg.mountpoint);
  const fuse::UringMode uring_mode = fuse::parse_uring_mode(cfg.io_uring);
  const bool uring_allowed = fuse::UringTransport::kernel_allows(uring_mode);
  session.mount(target, cfg.mountpoint);
  const OwnMount own = take_mountpoint(target, cfg.mountpoint);
  // Before the first request (INIT) is read and before the sandbox.
  std::unique_ptr<fuse::UringTransport> uring;
  if (uring_allowed) uring = fuse::UringTransport::prepare(session.get(), uring_mode);
  write_pid_record(cfg.registry_dir, cfg.mountpoint);
  write_cpu_view(cfg.registry_dir, opts.cpu_view);
  log_line("vprocd: serving " + cfg.mountpoint);
  UniqueFd view_proc;
  std::unique_ptr<ViewMount> cview;
  if (cfg.container_view) {
    view_proc = open_at(AT_FDCWD, cfg.proc_root, O_RDONLY | O_DIRECTORY);
    cview = std::make_unique<ViewMount>(&views, views.host_has_pressure(), view_proc.get(),
                                        std::chrono::milliseconds(cfg.view_max_age_ms),
                                        cfg.registry_dir + "/view");
  }

  Keeper keeper(keeper_hooks(ctx), std::chrono::duration<double>(cfg.drain_timeout));
  DrainSignal drain_signal(keeper);
  keeper.watch_child(fork_attacher(cfg, target, own, session.get(), cview.get(), ready_w.get()));
  ready_w.reset();
  std::unique_ptr<Unmounter> unmounter = fork_unmounter(cfg.mountpoint, own, cview.get());
  confine(cfg);
  views.start_sampler();
  if (cview) cview->start(2);
  if (uring) uring->start();
  keeper.start();
  const int rc = session.loop(cfg.threads);
  keeper.stop();
  if (cview) {
    // Confined, it cannot unmount the view itself: the unmounter does.
    cview->stop(keeper.handed_over());
    // Its loop thread may still wait on the device until the process exits.
    (void)cview.release();
    (void)view_proc.release();
  }
  if (uring) uring->stop();
  session.remove_signal_handlers();
  return leave(*unmounter, keeper.handed_over(), rc);
}

void add_options(CLI::App& app, Config& cfg) {
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
                 "files open at once across all readers; more fail with ENFILE (one cgroup "
                 "may hold an eighth, 64 to 4096, and 16 MiB: more fail with EMFILE)")
      ->check(CLI::Range(size_t{1}, size_t{1} << 20))
      ->capture_default_str();
  app.add_option("--registry-dir", cfg.registry_dir,
                 "registry of attached containers (re-attached at every start) and vprocd.pid")
      ->capture_default_str();
  app.add_flag("--takeover", cfg.takeover,
               "if a vprocd serves the mountpoint, take over from it without failing a read");
  app.add_flag("--detach", cfg.detach,
               "run in the background; exit 0 once serving and containers are re-attached");
  app.add_flag("--no-reattach", cfg.no_reattach, "do not re-attach registered containers at start");
  app.add_option("--drain-timeout", cfg.drain_timeout,
                 "seconds a taken-over vprocd keeps serving files still open")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  app.add_option("--io-uring", cfg.io_uring,
                 "FUSE over io_uring (Linux >= 6.14): auto = when the fuse module's "
                 "enable_uring is on; on = turn enable_uring on if needed; off = /dev/fuse only")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  app.add_flag("--container-view,!--no-container-view", cfg.container_view,
               "serve each container's own files at REGISTRY_DIR/view, from the page cache "
               "(what vproc-hook mounts by default); --no-container-view: the per-reader "
               "files only");
  app.add_option("--view-max-age-ms", cfg.view_max_age_ms,
                 "the container view's files are at most this old when read")
      ->check(CLI::Range(1u, 60000u))
      ->capture_default_str();
  app.set_config("--config", "/etc/vproc/vprocd.conf",
                 "config file: the long options as keys (e.g. cpu-view = \"cpuset\")");
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  CLI::App app{"vprocd: a FUSE server that renders /proc files from the reader's cgroup"};
  add_options(app, cfg);
  CLI11_PARSE(app, argc, argv);
  try {
    return run(cfg);
  } catch (const std::exception& e) {
    vproc::log_line(std::string("vprocd: ") + e.what());
    return 1;
  }
}
