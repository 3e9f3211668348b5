// Jobs that may hang for good, each in a forked child with a deadline.
//
// A job that resolves paths in a container's mount namespace can block on a
// FUSE filesystem the container mounted itself; once that server has read
// the request, the wait is not even killable. So every job runs in a child of
// its own: the caller reads what it says until it exits or its deadline
// passes. A child past its deadline is sent SIGKILL and left behind (not
// waited for: init reaps it once its wait ends), so one hanging job delays
// neither the caller nor the other jobs.
//
// Forks: call from a single-threaded process (the hook, vprocd's attacher).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace vproc {

struct ForkedResult {
  bool timed_out = false;
  bool ok = false;    // exited 0 before its deadline
  std::string text;   // what the job wrote to its fd (all of it, when it finished)
  std::string error;  // the exception a job threw, or how its child died
};

// Runs job(i, fd) for i in [0, n), each in a forked child that writes its
// report to fd, at most `parallel` at once, each with `limit` from its own
// start. Results are in job order.
std::vector<ForkedResult> run_forked(std::size_t n,
                                     const std::function<void(std::size_t, int)>& job,
                                     std::chrono::milliseconds limit, std::size_t parallel);

// Writes a line (a newline inside it becomes a space) to a job's report fd.
void report_line(int fd, std::string line);

// The report of a job that mounts files (re-attach, adoption): how many it
// mounted, and lines for the log. report_files and report_note write it,
// parse_file_report reads a finished job's text back.
struct FileReport {
  int files = 0;
  std::vector<std::string> lines;
};
void report_files(int fd, int files);
void report_note(int fd, const std::string& line);
FileReport parse_file_report(const std::string& text);

}  // namespace vproc
