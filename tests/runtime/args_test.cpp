// vproc-runtime's command line (runtime/args.h): our options vs the real
// runtime's, runc's subcommand behind its global flags, the bundle.
#include "runtime/args.h"

#include <doctest/doctest.h>

#include "lib/base/sys_error.h"

using namespace vproc;
using namespace vproc::runtime;
using Args = std::vector<std::string>;

TEST_CASE("args: our options come first, the rest passes through untouched") {
  Invocation inv =
      split_args({"--vproc-hook=/h/vproc-hook", "--vproc-runtime", "/usr/bin/crun",
                  "--vproc-hook-arg=--mountpoint=/x", "--vproc-hook-arg", "--timeout-ms=500",
                  "--root", "/run/r", "state", "c1", "--vproc-help"});
  CHECK(inv.own.hook == "/h/vproc-hook");
  CHECK(inv.own.runtime == "/usr/bin/crun");
  CHECK(inv.own.hook_args == Args{"--mountpoint=/x", "--timeout-ms=500"});
  CHECK_FALSE(inv.own.help);  // after the runtime's first argument it is the runtime's
  CHECK(inv.runtime_args == Args{"--root", "/run/r", "state", "c1", "--vproc-help"});
  CHECK(inv.subcommand == "state");
  CHECK_FALSE(inv.bundle);
}

TEST_CASE("args: defaults, help and version") {
  Invocation inv = split_args({});
  CHECK(inv.own.hook.empty());
  CHECK(inv.own.runtime == "runc");
  CHECK(inv.own.hook_args.empty());
  CHECK(inv.runtime_args.empty());
  CHECK(inv.subcommand.empty());
  CHECK(split_args({"--vproc-help"}).own.help);
  CHECK(split_args({"--vproc-version"}).own.version);
  // runc's own --version and --help are runc's.
  Invocation v = split_args({"--vproc-hook=/h", "--version"});
  CHECK_FALSE(v.own.version);
  CHECK(v.runtime_args == Args{"--version"});
  CHECK(v.subcommand.empty());
}

TEST_CASE("args: bad options of ours are usage errors") {
  CHECK_THROWS_WITH_AS(split_args({"--vproc-hoook=/x"}),
                       "unknown option --vproc-hoook=/x (see --vproc-help)", InputError);
  CHECK_THROWS_WITH_AS(split_args({"--vproc-hook"}), "option --vproc-hook needs a value",
                       InputError);
  CHECK_THROWS_AS(split_args({"--vproc-help=yes"}), InputError);
  CHECK_THROWS_AS(split_args({"--vproc-runtime="}), InputError);
}

TEST_CASE("args: the subcommand comes after runc's global options and their values") {
  auto sub = [](const Args& a) { return find_subcommand(a); };
  CHECK(sub({"create", "x"}) == 0u);
  // What Docker (containerd's runc shim) passes.
  CHECK(sub({"--root", "/run/docker/runtime-runc/moby", "--log",
             "/run/containerd/io.containerd.runtime.v2.task/moby/c1/log.json", "--log-format",
             "json", "--systemd-cgroup", "create", "--bundle", "/b", "c1"}) == 7u);
  CHECK(sub({"--root=/r", "--log=/l", "--debug", "delete", "c1"}) == 3u);
  CHECK(sub({"-root", "/r", "--criu", "/usr/sbin/criu", "--rootless", "auto", "run", "c"}) == 6u);
  CHECK(sub({"--log-level", "debug", "--cgroup-manager", "systemd", "create"}) == 4u);  // crun
  CHECK(sub({"--debug", "--", "create"}) == 2u);
  CHECK_FALSE(sub({"--version"}));
  CHECK_FALSE(sub({"--root", "create"}));  // "create" is --root's value
  CHECK_FALSE(sub({}));
}

TEST_CASE("args: the bundle of create and run") {
  auto bundle = [](const Args& a) { return split_args(a).bundle; };
  CHECK(bundle({"--root", "/r", "create", "--bundle", "/b1", "--pid-file", "/p", "c1"}) == "/b1");
  CHECK(bundle({"create", "--bundle=/b2", "c1"}) == "/b2");
  CHECK(bundle({"create", "-b", "/b3", "c1"}) == "/b3");
  CHECK(bundle({"create", "-b=/b4", "c1"}) == "/b4");
  CHECK(bundle({"run", "-bundle", "rel/b5", "c1"}) == "rel/b5");
  CHECK(bundle({"create", "c1", "--bundle", "/b6"}) == "/b6");  // urfave/cli reorders
  CHECK(bundle({"create", "c1"}) == "");                        // the current directory
  // Another option's value is not the bundle flag.
  CHECK(bundle({"create", "--console-socket", "-b", "--pid-file", "/p", "c1"}) == "");
  CHECK(bundle({"create", "--", "--bundle", "/b7"}) == "");
  CHECK_FALSE(bundle({"start", "--bundle", "/b", "c1"}));
  CHECK_FALSE(bundle({"--root", "create", "delete", "c1"}));
  CHECK(creates_container("create"));
  CHECK(creates_container("run"));
  CHECK_FALSE(creates_container("exec"));
}
