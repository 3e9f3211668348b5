#include "lib/inject/attach.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>
#include <stdexcept>

#include "lib/base/io.h"
#include "lib/base/sys_error.h"
#include "lib/base/unique_fd.h"
#include "lib/proc/identity.h"

namespace vproc {

namespace {

int remaining_ms(Deadline d) {
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(d - std::chrono::steady_clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

// Worker -> parent protocol, one line per event:
//   "M <target>"            mounted
//   "S <target>\t<reason>"  skipped
//   "E <message>"           failed as a whole (nothing of this run left mounted)
void send(int fd, const std::string& line) {
  std::string s = line + "\n";
  ssize_t ignored = ::write(fd, s.data(), s.size());
  (void)ignored;
}

[[noreturn]] void worker(int out, const AttachRequest& req) {
  try {
    probe_vprocd(req.mountpoint);
    InjectRequest ir;
    ir.pid = req.pid;
    ir.pid_start_time = req.pid_start_time;
    ir.mnt_ns = req.mnt_ns;
    ir.rootfs = req.rootfs;
    ir.files = req.files;
    ir.replace = req.replace;
    ir.cpu_dir = req.cpu_dir;
    auto outcomes = inject_files(ir, [&](const InjectOutcome& o) { send(out, "M " + o.target); });
    for (const InjectOutcome& o : outcomes) {
      if (o.status == InjectStatus::kSkipped) send(out, "S " + o.target + "\t" + o.reason);
    }
    ::_exit(0);
  } catch (const std::exception& e) {
    send(out, std::string("E ") + e.what());
  } catch (...) {
    send(out, "E unknown error");
  }
  ::_exit(1);
}

struct Worker {
  pid_t pid = 0;
  UniqueFd out;  // read end of its report pipe
};

Worker start_worker(const AttachRequest& req) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) throw SysError("pipe2", "", errno);
  UniqueFd rd(p[0]), wr(p[1]);
  pid_t child = ::fork();
  if (child < 0) throw SysError("fork", "", errno);
  if (child == 0) {
    rd.reset();
    worker(wr.get(), req);
  }
  return {child, std::move(rd)};
}

// Appends what fd says to *text until EOF or error. False when the deadline
// passed first.
bool read_until(int fd, Deadline deadline, std::string* text) {
  for (;;) {
    pollfd pfd{fd, POLLIN, 0};
    int r = ::poll(&pfd, 1, remaining_ms(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) return false;
    char buf[4096];
    ssize_t n = retry_eintr([&] { return ::read(fd, buf, sizeof buf); });
    if (n <= 0) return true;
    text->append(buf, static_cast<size_t>(n));
  }
}

// What the worker said, line by line.
struct Report {
  std::vector<InjectOutcome> outcomes;
  std::vector<std::string> mounted;
  std::string error;
  bool worker_reported = false;  // "E": inject_files undid its own mounts
};

Report parse_report(const std::string& text) {
  Report rep;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() < 2) continue;
    std::string body = line.substr(2);
    if (line[0] == 'M') {
      rep.mounted.push_back(body);
      rep.outcomes.push_back({body, InjectStatus::kMounted, ""});
    } else if (line[0] == 'S') {
      size_t tab = body.find('\t');
      rep.outcomes.push_back({body.substr(0, tab), InjectStatus::kSkipped,
                              tab == std::string::npos ? "" : body.substr(tab + 1)});
    } else if (line[0] == 'E') {
      rep.error = body;
      rep.worker_reported = true;
    }
  }
  return rep;
}

}  // namespace

void probe_vprocd(const std::string& mountpoint) {
  std::string path = mountpoint + "/proc/meminfo";
  int fd = retry_eintr([&] { return ::open(path.c_str(), O_RDONLY | O_CLOEXEC); });
  if (fd < 0) {
    int e = errno;
    if (e == ENOTCONN) {
      throw SysError(ENOTCONN, "vprocd is not running (stale FUSE mount at " + mountpoint + ")");
    }
    if (e == ENOENT) throw SysError(ENOENT, "vprocd is not serving " + path + " (not running?)");
    throw SysError("open", path, e);
  }
  UniqueFd f(fd);
  char buf[64];
  ssize_t n = retry_eintr([&] { return ::read(f.get(), buf, sizeof buf); });
  if (n < 0) throw SysError("read", path, errno);
  if (n < 9 || std::memcmp(buf, "MemTotal:", 9) != 0) {
    throw SysError(EBADMSG, path + " does not start with MemTotal: (is vprocd serving it?)");
  }
  if (!is_fuse_file(path)) {
    throw SysError(ENODEV, path + " is not on a FUSE mount (is vprocd running?)");
  }
}

bool before_pivot(pid_t pid) {
  struct stat self_root {
  }, its_root{};
  std::string p = "/proc/" + std::to_string(pid) + "/root";
  if (::stat("/", &self_root) != 0) throw SysError("stat", "/", errno);
  if (::stat(p.c_str(), &its_root) != 0) throw SysError("stat", p, errno);
  return self_root.st_dev == its_root.st_dev && self_root.st_ino == its_root.st_ino;
}

std::vector<InjectOutcome> attach_bounded(const AttachRequest& req, Deadline deadline) {
  // The host's /proc, opened once here in the caller's own namespace: each
  // worker inherits it instead of opening it again.
  host_proc();
  Worker w = start_worker(req);
  std::string text;
  bool timed_out = !read_until(w.out.get(), deadline, &text);
  if (timed_out) ::kill(w.pid, SIGKILL);
  int status = 0;
  retry_eintr([&] { return ::waitpid(w.pid, &status, 0); });

  Report rep = parse_report(text);
  if (timed_out) {
    rep.error = "timed out after the hook's deadline (vprocd hung?)";
  } else if (rep.error.empty() && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
    rep.error = "injection worker died (status " + std::to_string(status) + ")";
  }
  if (rep.error.empty()) return rep.outcomes;
  // inject_files already undid its own mounts when it threw; a killed or
  // crashed worker could not, so undo whatever it reported.
  if (!rep.worker_reported && !rep.mounted.empty()) {
    try {
      undo_mounts(req.pid, req.rootfs, rep.mounted);
    } catch (const std::exception& e) {
      rep.error += "; undoing mounts failed: " + std::string(e.what());
    }
  }
  throw SysError(timed_out ? ETIMEDOUT : EIO, rep.error);
}

}  // namespace vproc
