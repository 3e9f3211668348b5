// lib/inject/forked.h: jobs in forked children, each with a deadline.
#include "lib/inject/forked.h"

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string>

namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

}  // namespace

TEST_CASE("run_forked: reports, errors and a hanging job, in job order") {
  auto job = [](std::size_t i, int fd) {
    if (i == 1) throw std::runtime_error("no such container\nsecond line");
    if (i == 2) {
      for (;;) ::pause();  // never answers
    }
    if (i == 3) ::_exit(7);
    vproc::report_line(fd, "job " + std::to_string(i));
    vproc::report_line(fd, "two\nlines");
  };
  Clock::time_point t0 = Clock::now();
  auto r = vproc::run_forked(5, job, milliseconds(300), 2);
  auto took = Clock::now() - t0;
  REQUIRE(r.size() == 5);
  CHECK(r[0].ok);
  CHECK(r[0].text == "job 0\ntwo lines\n");
  CHECK(r[4].ok);
  CHECK(r[4].text == "job 4\ntwo lines\n");
  CHECK_FALSE(r[1].ok);
  CHECK_FALSE(r[1].timed_out);
  CHECK(r[1].error == "no such container second line");
  CHECK(r[1].text.empty());
  CHECK_FALSE(r[2].ok);
  CHECK(r[2].timed_out);
  CHECK(r[2].error == "no answer within 300 ms");
  CHECK_FALSE(r[3].ok);
  CHECK(r[3].error == "exited with status 7");
  // The hanging job held one of two slots for its 300 ms; the others ran
  // beside it, so the whole run is far from 5 x 300 ms.
  CHECK(took >= milliseconds(300));
  CHECK(took < milliseconds(1200));
  // Reap the killed child so the test process leaves no zombie.
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
}

TEST_CASE("run_forked: no jobs, no children") {
  auto r = vproc::run_forked(
      0, [](std::size_t, int) { FAIL("no job should run"); }, milliseconds(10), 4);
  CHECK(r.empty());
}

TEST_CASE("file reports: what report_files and report_note write, parse_file_report reads") {
  auto r = vproc::run_forked(
      1,
      [](std::size_t, int fd) {
        vproc::report_note(fd, "container a: skipped proc/swaps");
        vproc::report_files(fd, 3);
        vproc::report_note(fd, "two\nlines");
        vproc::report_line(fd, "neither kind");
      },
      milliseconds(2000), 1);
  REQUIRE(r[0].ok);
  vproc::FileReport fr = vproc::parse_file_report(r[0].text);
  CHECK(fr.files == 3);
  REQUIRE(fr.lines.size() == 2);
  CHECK(fr.lines[0] == "container a: skipped proc/swaps");
  CHECK(fr.lines[1] == "two lines");
  CHECK(vproc::parse_file_report("").files == 0);
}
