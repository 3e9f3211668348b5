// The unmounter: a helper forked before vprocd confines itself, so that the
// serving process needs no CAP_SYS_ADMIN. It keeps CAP_SYS_ADMIN alone (every
// other capability is dropped, from the bounding set too), closes every fd but
// its end of a socketpair and stderr, ignores the signals that stop vprocd,
// and waits for one byte:
//   'U' (the session ended, not handed over): detach each of its mounts that
//       is still the one vprocd made (same mount id at that path: a successor
//       may be stacked there), log what it did, answer 'D' and exit;
//   end of file (handed over, or vprocd died): exit without unmounting. A
//       successor owns the mountpoint then, or, after a crash, the next
//       vprocd detaches the stale mount as it always did.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "lib/base/unique_fd.h"

namespace vproc {

struct OwnedMount {
  std::string path;
  std::uint64_t id = 0;  // mount_id_at(path) when it was made
  bool log = true;       // log what happened to it (the view's is quiet)
};

class Unmounter {
 public:
  // Forks the helper. Call while the process has one thread, before it
  // drops CAP_SYS_ADMIN, and after forking any other child (a child that
  // inherits our end would delay the helper's end of file). Throws SysError.
  explicit Unmounter(const std::vector<OwnedMount>& mounts);
  Unmounter(const Unmounter&) = delete;
  Unmounter& operator=(const Unmounter&) = delete;
  ~Unmounter() { release(); }

  // Asks the helper to unmount and waits until it has (or is gone).
  // Returns false when it did not answer.
  bool unmount();
  // Lets the helper exit without unmounting (handed over).
  void release();
  pid_t pid() const { return pid_; }

 private:
  UniqueFd sock_;
  pid_t pid_ = -1;
};

}  // namespace vproc
