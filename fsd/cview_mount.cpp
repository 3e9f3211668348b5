#include "fsd/cview_mount.h"

#include <sys/mount.h>
#include <sys/stat.h>

#include <cerrno>
#include <vector>

#include "fsd/fuse/cview_fs.h"
#include "fsd/mountpoint.h"
#include "lib/base/log.h"
#include "lib/base/sys_error.h"

namespace vproc {

ViewMount::ViewMount(view::ViewService* views, bool with_pressure, int proc,
                     std::chrono::milliseconds max_age, const std::string& dir)
    : view_(views, with_pressure, proc, max_age), dir_(dir) {
  if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) throw SysError("mkdir", dir_, errno);
  if (prepare_mountpoint(dir_, /*allow_live=*/true) == MountpointState::kLive) {
    // The instance we take over: its containers keep their binds until
    // re-attach gives them ours.
    if (::umount2(dir_.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) != 0) {
      throw SysError("umount2", dir_, errno);
    }
  }
  std::vector<std::string> argv_s = {
      "vprocd", "-o", "ro,allow_other,default_permissions,fsname=vprocd,subtype=vprocd"};
  std::vector<char*> argv;
  for (auto& s : argv_s) argv.push_back(s.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  se_ = fuse_session_new(&args, &fuse::view_ops(), sizeof(fuse_lowlevel_ops), &view_);
  if (!se_) throw SysError("fuse_session_new", dir_, "libfuse refused the options");
  if (fuse_session_mount(se_, dir_.c_str()) != 0) {
    fuse_session_destroy(se_);
    se_ = nullptr;
    throw SysError("mount", dir_, "the FUSE mount of the container view failed");
  }
  log_line("vprocd: container view at " + dir_ + " (files at most " +
           std::to_string(max_age.count()) + " ms old)");
}

ViewMount::~ViewMount() {
  if (!stopped_) stop(/*handed_over=*/false);
  // A loop thread may still wait on the device (see stop()): the session
  // stays allocated for it until the process exits.
}

void ViewMount::start(unsigned threads) {
  loop_ = std::thread([this, threads] {
    fuse_loop_config* cfg = fuse_loop_cfg_create();
    fuse_loop_cfg_set_clone_fd(cfg, 0);
    fuse_loop_cfg_set_idle_threads(cfg, threads);
    fuse_loop_cfg_set_max_threads(cfg, threads);
    fuse_session_loop_mt(se_, cfg);
    fuse_loop_cfg_destroy(cfg);
  });
}

void ViewMount::stop(bool handed_over) {
  stopped_ = true;
  if (!se_) return;
  fuse_session_exit(se_);
  if (!handed_over) ::umount2(dir_.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW);
  // Containers' binds keep the connection open, so a worker blocked reading
  // the device may never wake: it ends with the process, not joined here.
  if (loop_.joinable()) loop_.detach();
}

}  // namespace vproc
