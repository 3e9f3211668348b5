#include "lib/inject/forked.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <exception>
#include <optional>
#include <sstream>

#include "lib/base/io.h"
#include "lib/base/sys_error.h"
#include "lib/base/unique_fd.h"

namespace vproc {

namespace {

using Clock = std::chrono::steady_clock;

// The last line of a job that threw starts with this.
constexpr const char* kErrorMark = "!error ";

struct Running {
  std::size_t index = 0;
  pid_t pid = 0;
  UniqueFd out;
  Clock::time_point deadline;
};

[[noreturn]] void child(std::size_t i, int fd, const std::function<void(std::size_t, int)>& job) {
  try {
    job(i, fd);
    ::_exit(0);
  } catch (const std::exception& e) {
    report_line(fd, kErrorMark + std::string(e.what()));
  } catch (...) {
    report_line(fd, std::string(kErrorMark) + "unknown error");
  }
  ::_exit(1);
}

Running start(std::size_t i, const std::function<void(std::size_t, int)>& job,
              std::chrono::milliseconds limit) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) throw SysError("pipe2", "", errno);
  UniqueFd rd(p[0]), wr(p[1]);
  pid_t pid = ::fork();
  if (pid < 0) throw SysError("fork", "job", errno);
  if (pid == 0) {
    rd.reset();
    child(i, wr.get(), job);
  }
  return {i, pid, std::move(rd), Clock::now() + limit};
}

// Fills in how a finished child ended.
void finish(pid_t pid, ForkedResult& r) {
  int status = 0;
  retry_eintr([&] { return ::waitpid(pid, &status, 0); });
  r.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (r.ok) return;
  std::size_t at = r.text.rfind(kErrorMark);
  if (at != std::string::npos && (at == 0 || r.text[at - 1] == '\n')) {
    r.error = r.text.substr(at + std::string(kErrorMark).size());
    while (!r.error.empty() && r.error.back() == '\n') r.error.pop_back();
    r.text.erase(at);
  } else if (WIFSIGNALED(status)) {
    r.error = "killed by signal " + std::to_string(WTERMSIG(status));
  } else {
    r.error = "exited with status " + std::to_string(WEXITSTATUS(status));
  }
}

// Past its deadline: killed, reaped only if it is already gone.
void abandon(const Running& j, std::chrono::milliseconds limit, ForkedResult& r) {
  ::kill(j.pid, SIGKILL);
  int status = 0;
  (void)::waitpid(j.pid, &status, WNOHANG);
  r.timed_out = true;
  r.error = "no answer within " + std::to_string(limit.count()) + " ms";
}

int poll_timeout(const std::vector<Running>& running) {
  Clock::time_point first = running.front().deadline;
  for (const Running& j : running) first = std::min(first, j.deadline);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(first - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(ms + 1, 0, 60000));
}

// Reads what each ready child says; removes the finished and the late ones.
void service(std::vector<Running>& running, std::vector<ForkedResult>& results,
             std::chrono::milliseconds limit) {
  std::vector<pollfd> fds;
  for (const Running& j : running) fds.push_back({j.out.get(), POLLIN, 0});
  int r = ::poll(fds.data(), fds.size(), poll_timeout(running));
  if (r < 0 && errno != EINTR) throw SysError("poll", "jobs", errno);
  std::vector<Running> still;
  for (std::size_t k = 0; k < running.size(); ++k) {
    Running& j = running[k];
    ForkedResult& res = results[j.index];
    if (r > 0 && fds[k].revents != 0) {
      char buf[4096];
      ssize_t n = retry_eintr([&] { return ::read(j.out.get(), buf, sizeof buf); });
      if (n > 0) {
        res.text.append(buf, static_cast<std::size_t>(n));
      } else {
        finish(j.pid, res);
        continue;
      }
    }
    if (Clock::now() >= j.deadline) {
      abandon(j, limit, res);
      continue;
    }
    still.push_back(std::move(j));
  }
  running = std::move(still);
}

}  // namespace

void report_line(int fd, std::string line) {
  std::replace(line.begin(), line.end(), '\n', ' ');
  line += '\n';
  std::string_view rest = line;
  while (!rest.empty()) {
    ssize_t n = retry_eintr([&] { return ::write(fd, rest.data(), rest.size()); });
    if (n <= 0) return;  // the caller gave up on this job
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
}

void report_files(int fd, int files) { report_line(fd, "F " + std::to_string(files)); }

void report_note(int fd, const std::string& line) { report_line(fd, "L " + line); }

FileReport parse_file_report(const std::string& text) {
  FileReport r;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("F ", 0) == 0) r.files += std::atoi(line.c_str() + 2);
    if (line.rfind("L ", 0) == 0) r.lines.push_back(line.substr(2));
  }
  return r;
}

std::vector<ForkedResult> run_forked(std::size_t n,
                                     const std::function<void(std::size_t, int)>& job,
                                     std::chrono::milliseconds limit, std::size_t parallel) {
  std::vector<ForkedResult> results(n);
  std::vector<Running> running;
  std::size_t next = 0;
  parallel = std::max<std::size_t>(parallel, 1);
  while (next < n || !running.empty()) {
    while (next < n && running.size() < parallel) running.push_back(start(next++, job, limit));
    service(running, results, limit);
  }
  return results;
}

}  // namespace vproc
