// The built vproc-runtime against a fake real runtime: a script that records
// its arguments (one a line) and exits 3.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/runtime/test_util.h"

using namespace vproc::runtime::test;
using nlohmann::ordered_json;
using Args = std::vector<std::string>;

namespace {

const char* kConfig = R"({"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"env":[]}})";

// A bundle, a fake runtime and a fake vproc-hook in one temporary directory.
struct Setup {
  TmpDir dir;
  Setup() {
    write_text(dir / "fake-runc",
               "#!/bin/sh\nprintf '%s\\n' \"$0\" \"$@\" > \"$(dirname \"$0\")/argv\"\nexit 3\n",
               0755);
    write_text(dir / "vproc-hook", "#!/bin/sh\nexit 0\n", 0755);
    ::mkdir((dir / "bundle").c_str(), 0755);
    write_text(dir / "bundle/config.json", kConfig, 0640);
  }
  Args own() const {
    return {"--vproc-runtime=" + dir / "fake-runc", "--vproc-hook=" + dir / "vproc-hook"};
  }
  std::string config() const { return read_text(dir / "bundle/config.json"); }
};

// Runs vproc-runtime with args in cwd; its stderr goes to `err`, its stdout
// to `err`.out. Returns the exit status.
int run(const Args& args, const std::string& cwd, const std::string& err) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int out = ::open((err + ".out").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || out < 0 || ::dup2(fd, STDERR_FILENO) < 0 || ::dup2(out, STDOUT_FILENO) < 0 ||
        ::chdir(cwd.c_str()) != 0) {
      ::_exit(99);
    }
    std::vector<char*> argv{const_cast<char*>(VPROC_RUNTIME_BIN)};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(VPROC_RUNTIME_BIN, argv.data());
    ::_exit(98);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

Args concat(Args a, const Args& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::string lines(const Args& a) {
  std::string s;
  for (const std::string& x : a) s += x + "\n";
  return s;
}

}  // namespace

TEST_CASE("end to end: create passes through and edits config.json") {
  Setup s;
  Args runc = {"--root",
               "/run/docker/runtime-runc/moby",
               "--log",
               s.dir / "log.json",
               "--log-format",
               "json",
               "--systemd-cgroup",
               "create",
               "--bundle",
               s.dir / "bundle",
               "--pid-file",
               s.dir / "pid",
               "c1"};
  Args args = concat(concat(s.own(), {"--vproc-hook-arg=--mountpoint=/x"}), runc);
  CHECK(run(args, s.dir.path(), s.dir / "err") == 3);
  CHECK(read_text(s.dir / "argv") == lines(concat({s.dir / "fake-runc"}, runc)));
  ordered_json c = ordered_json::parse(s.config());
  CHECK(c["hooks"]["createRuntime"][0].dump() ==
        ordered_json{{"path", s.dir / "vproc-hook"},
                     {"args", {"vproc-hook", "create", "--mountpoint=/x"}}}
            .dump());
  CHECK(c["hooks"]["poststop"][0]["args"] ==
        ordered_json::array({"vproc-hook", "poststop", "--mountpoint=/x"}));
  CHECK(c["root"]["path"] == "rootfs");
  CHECK(mode_of(s.dir / "bundle/config.json") == 0640);
  CHECK(read_text(s.dir / "err") == "");
}

TEST_CASE("end to end: without --bundle the bundle is the current directory") {
  Setup s;
  CHECK(run(concat(s.own(), {"create", "c1"}), s.dir / "bundle", s.dir / "err") == 3);
  CHECK(ordered_json::parse(s.config())["hooks"]["createRuntime"].size() == 1);
}

TEST_CASE("end to end: other subcommands leave config.json alone") {
  Setup s;
  for (const Args& runc : std::vector<Args>{{"--root", "/r", "start", "c1"},
                                            {"--root=/r", "delete", "--force", "c1"},
                                            {"state", "c1"},
                                            {"--version"}}) {
    CHECK(run(concat(s.own(), runc), s.dir / "bundle", s.dir / "err") == 3);
    CHECK(read_text(s.dir / "argv") == lines(concat({s.dir / "fake-runc"}, runc)));
    CHECK(s.config() == kConfig);
  }
}

TEST_CASE("end to end: VPROC_ENABLE=false leaves config.json alone") {
  Setup s;
  std::string opted = R"({"process":{"env":["VPROC_ENABLE=false"]}})";
  write_text(s.dir / "bundle/config.json", opted);
  CHECK(run(concat(s.own(), {"create", "-b", "bundle", "c1"}), s.dir.path(), s.dir / "err") == 3);
  CHECK(s.config() == opted);
}

TEST_CASE("end to end: a malformed config.json is reported and the runtime still runs") {
  Setup s;
  write_text(s.dir / "bundle/config.json", "{oops");
  CHECK(run(concat(s.own(), {"create", "--bundle=" + s.dir / "bundle", "c1"}), s.dir.path(),
            s.dir / "err") == 3);
  CHECK(s.config() == "{oops");
  std::string err = read_text(s.dir / "err");
  CHECK(err.find(s.dir / "bundle/config.json: not valid JSON") != std::string::npos);
  CHECK(err.find("fail-open") != std::string::npos);
  CHECK(read_text(s.dir / "argv") != "");
}

TEST_CASE("end to end: a missing vproc-hook leaves config.json alone (fail-open)") {
  Setup s;
  Args args = {"--vproc-runtime=" + s.dir / "fake-runc", "--vproc-hook=" + s.dir / "nohook",
               "create", "c1"};
  CHECK(run(args, s.dir / "bundle", s.dir / "err") == 3);
  CHECK(s.config() == kConfig);
  CHECK(read_text(s.dir / "err").find(s.dir / "nohook") != std::string::npos);
}

TEST_CASE("end to end: a missing real runtime is exit 127 and no edit") {
  Setup s;
  Args args = {"--vproc-runtime=" + s.dir / "no-runc", "--vproc-hook=" + s.dir / "vproc-hook",
               "create", "c1"};
  CHECK(run(args, s.dir / "bundle", s.dir / "err") == 127);
  CHECK(s.config() == kConfig);
  CHECK(read_text(s.dir / "err").find("no-runc was not found") != std::string::npos);
  CHECK(run({"--vproc-runtime=no-such-runc-here", "state", "c1"}, s.dir / "bundle",
            s.dir / "err") == 127);
  CHECK(read_text(s.dir / "err").find("not found on PATH") != std::string::npos);
}

TEST_CASE("end to end: --vproc-help, --vproc-version, usage errors") {
  Setup s;
  CHECK(run({"--vproc-help"}, s.dir.path(), s.dir / "err") == 0);
  CHECK(read_text(s.dir / "err.out").find("--vproc-hook-arg=ARG") != std::string::npos);
  CHECK(run({"--vproc-version"}, s.dir.path(), s.dir / "err") == 0);
  CHECK(read_text(s.dir / "err.out").starts_with("vproc-runtime "));
  CHECK(run({"--vproc-nope", "create"}, s.dir.path(), s.dir / "err") == 2);
  CHECK(read_text(s.dir / "err").find("unknown option --vproc-nope") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(s.dir / "argv"));
}
