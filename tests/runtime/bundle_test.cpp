// The bundle I/O of vproc-runtime (runtime/bundle.h) on temporary directories.
#include "runtime/bundle.h"

#include <doctest/doctest.h>

#include <filesystem>

#include "lib/base/sys_error.h"
#include "tests/runtime/test_util.h"

using namespace vproc;
using namespace vproc::runtime;
using namespace vproc::runtime::test;
using nlohmann::ordered_json;

namespace {
const HookSpec kSpec{"/usr/libexec/vproc/vproc-hook", {}};

size_t entries(const std::string& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}
}  // namespace

TEST_CASE("bundle: config.json is replaced whole, with its mode, and no file left over") {
  TmpDir d;
  write_text(d / "config.json", R"({"ociVersion":"1.0.2","root":{"path":"rootfs"}})", 0600);
  CHECK(edit_bundle(d.path(), kSpec) == EditOutcome::kEdited);
  ordered_json c = ordered_json::parse(read_text(d / "config.json"));
  CHECK(c["hooks"]["createRuntime"][0]["path"] == kSpec.path);
  CHECK(c["root"]["path"] == "rootfs");
  CHECK(mode_of(d / "config.json") == 0600);
  CHECK(entries(d.path()) == 1);
  // Again: nothing to do, the file is not rewritten.
  std::string once = read_text(d / "config.json");
  CHECK(edit_bundle(d.path(), kSpec) == EditOutcome::kAlreadyPresent);
  CHECK(read_text(d / "config.json") == once);
}

TEST_CASE("bundle: errors name the file and leave it as it was") {
  TmpDir d;
  CHECK_THROWS_WITH_AS(edit_bundle(d.path(), kSpec),
                       ("openat " + d.path() + "/config.json: No such file or directory").c_str(),
                       SysError);
  write_text(d / "config.json", "{not json");
  CHECK_THROWS_WITH_AS(edit_bundle(d.path(), kSpec),
                       (d.path() + "/config.json: not valid JSON").c_str(), InputError);
  CHECK(read_text(d / "config.json") == "{not json");
  CHECK(entries(d.path()) == 1);
  // A symlinked config.json would become a file: refused.
  TmpDir l;
  write_text(l / "real.json", "{}");
  std::filesystem::create_symlink(l / "real.json", l / "config.json");
  CHECK_THROWS_AS(edit_bundle(l.path(), kSpec), SysError);
  CHECK(read_text(l / "real.json") == "{}");
}

TEST_CASE("bundle: find_program looks on PATH like execvp") {
  TmpDir d;
  std::filesystem::create_directory(d / "a");
  std::filesystem::create_directory(d / "b");
  write_text(d / "a/rt", "", 0644);  // not executable: skipped
  write_text(d / "b/rt", "#!/bin/sh\n", 0755);
  std::filesystem::create_directory(d / "c");
  std::filesystem::create_directory(d / "c/rt");  // a directory: skipped
  CHECK(find_program("rt", d / "a:" + d / "c:" + d / "b") == d / "b/rt");
  CHECK_FALSE(find_program("rt", d / "a:/nonexistent"));
  CHECK(find_program("/any/where/rt", "") == "/any/where/rt");
  CHECK(find_program("./rt", "") == "./rt");
}

TEST_CASE("bundle: hook_path") {
  CHECK(hook_path("/x/vproc-hook", "/fallback") == "/x/vproc-hook");
  CHECK(hook_path("rel/vproc-hook", "/fallback") ==
        std::filesystem::current_path().string() + "/rel/vproc-hook");
  // No vproc-hook beside the test binary: the fallback.
  CHECK(hook_path("", "/fallback/vproc-hook") == "/fallback/vproc-hook");
}
