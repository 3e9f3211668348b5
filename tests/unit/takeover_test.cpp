// fsd/takeover.h: the pid record a successor uses to find (and signal) the
// running vprocd, and the identity check that keeps it from signalling a
// process that merely inherited the pid.
#include "fsd/takeover.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "lib/registry/registry.h"

namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/vproc-takeover-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
};

void write_text(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

}  // namespace

TEST_CASE("pid record: written for this process, read back") {
  TempDir d;
  vproc::write_pid_record(d.path.string(), "/var/lib/vproc x");
  auto r = vproc::read_pid_record(d.path.string());
  REQUIRE(r.has_value());
  CHECK(r->pid == ::getpid());
  CHECK(r->mountpoint == "/var/lib/vproc x");  // spaces in the path survive
  CHECK(r->start_time == vproc::process_start_time(::getpid()).value());
}

TEST_CASE("pid record: malformed or absent records are no record") {
  TempDir d;
  CHECK_FALSE(vproc::read_pid_record(d.path.string()).has_value());
  const char* bad[] = {
      "", "12", "12 34", "x 34 /mp", "0 34 /mp", "12 y /mp", "99999999999 1 /mp", "-3 4 /mp"};
  for (const char* text : bad) {
    CAPTURE(text);
    write_text(d.path / "vprocd.pid", text);
    CHECK_FALSE(vproc::read_pid_record(d.path.string()).has_value());
  }
}

TEST_CASE("signal_recorded refuses a pid whose start time differs") {
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  vproc::PidRecord rec{child, vproc::process_start_time(child).value() + 1, "/mp"};
  CHECK_FALSE(vproc::signal_recorded(rec, SIGKILL));
  int status = 0;
  CHECK(::waitpid(child, &status, WNOHANG) == 0);  // still alive: untouched
  rec.start_time -= 1;
  CHECK(vproc::signal_recorded(rec, SIGKILL));
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGKILL);
  // Gone now: nothing to signal.
  CHECK_FALSE(vproc::signal_recorded(rec, SIGKILL));
}
