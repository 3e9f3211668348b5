// The per-container view's own FUSE connection (fsd/fuse/cview.h), mounted at
// REGISTRY_DIR/view (0700: only root walks it; containers get binds of its
// files). A view left there by a dead vprocd, or by the instance being taken
// over, is detached first (its files stay bound in containers until
// re-attach replaces them).
#pragma once

#include <fuse_lowlevel.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "fsd/fuse/cview.h"

namespace vproc {

class ViewMount {
 public:
  // Mounts; the loop runs from start(). Throws SysError.
  ViewMount(view::ViewService* views, bool with_pressure, int proc,
            std::chrono::milliseconds max_age, const std::string& dir);
  ViewMount(const ViewMount&) = delete;
  ViewMount& operator=(const ViewMount&) = delete;
  ~ViewMount();

  // Serves from a thread of its own (call after the sandbox is in place).
  void start(unsigned threads);
  // Ends serving. The mount is detached unless handed over (the successor
  // detaches it). Loop threads blocked on the device end with the process.
  void stop(bool handed_over);
  const std::string& dir() const { return dir_; }
  int fd() const { return fuse_session_fd(se_); }

 private:
  fuse::ContainerView view_;
  std::string dir_;
  fuse_session* se_ = nullptr;
  std::thread loop_;
  bool stopped_ = false;
};

}  // namespace vproc
