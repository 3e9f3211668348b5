// lib/inject/mountinfo: the one /proc/PID/mountinfo parser (mount injection
// and vprocd's mountpoint check). Lines marked "real" were copied from this
// machine (Linux 6.18): its own table, and mounts made in a private mount
// namespace with a space and a backslash in the path, shared and slave
// propagation, and a vprocd FUSE mount with one of its files bound on a procfs.
#include "lib/inject/mountinfo.h"

#include <doctest/doctest.h>
#include <fcntl.h>

#include <string>

#include "lib/base/io.h"

using vproc::MountInfo;
using vproc::parse_mountinfo;
using vproc::parse_mountinfo_line;
using vproc::unescape_mountinfo;

namespace {

// real
constexpr const char* kProc = "21 26 0:20 / /proc rw,relatime - proc proc rw";
constexpr const char* kRoot =
    "26 1 254:0 / / rw,relatime - ext4 /dev/vda "
    "rw,discard,resv_strict,resuid=65534,resgid=65534";
constexpr const char* kSystemd =
    "39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd";
constexpr const char* kSpace =
    "65 45 0:39 / /tmp/mi.rP6b/a\\040b rw,relatime - tmpfs my\\040src rw";
constexpr const char* kShared = "66 45 0:40 / /tmp/mi.rP6b/c rw,relatime shared:1 - tmpfs none rw";
constexpr const char* kSlave = "67 66 0:40 / /tmp/mi.rP6b/c/s rw,relatime master:1 - tmpfs none rw";
constexpr const char* kBackslash =
    "68 66 0:41 / /tmp/mi.rP6b/c/t\\134back rw,relatime shared:2 - tmpfs t rw";
constexpr const char* kSharedSlave =
    "66 65 0:39 / /tmp/mi.njPk/c/s rw,relatime shared:2 master:1 - tmpfs none rw";
constexpr const char* kVprocd =
    "65 45 0:39 / /tmp/mivp.PKfh/mp ro,nosuid,nodev,relatime - fuse.vprocd vprocd "
    "ro,user_id=0,group_id=0,default_permissions,allow_other";
constexpr const char* kVprocdBound =
    "67 66 0:39 /proc/meminfo /tmp/mivp.PKfh/p/meminfo ro,nosuid,nodev,relatime - fuse.vprocd "
    "vprocd ro,user_id=0,group_id=0,default_permissions,allow_other";

}  // namespace

TEST_CASE("mountinfo: every field of a real line") {
  auto m = parse_mountinfo_line(kRoot);
  REQUIRE(m.has_value());
  CHECK(m->id == 26u);
  CHECK(m->parent == 1u);
  CHECK(m->major == 254u);
  CHECK(m->minor == 0u);
  CHECK(m->root == "/");
  CHECK(m->mount_point == "/");
  CHECK(m->options == "rw,relatime");
  CHECK(m->optional_fields.empty());
  CHECK(m->fstype == "ext4");
  CHECK(m->source == "/dev/vda");
  CHECK(m->super_options == "rw,discard,resv_strict,resuid=65534,resgid=65534");
  CHECK_FALSE(m->shared());

  auto p = parse_mountinfo_line(kProc);
  REQUIRE(p.has_value());
  CHECK(p->mount_point == "/proc");
  CHECK(p->fstype == "proc");
  auto s = parse_mountinfo_line(kSystemd);
  REQUIRE(s.has_value());
  CHECK(s->super_options == "rw,name=systemd");
  CHECK(s->parent == 30u);
}

TEST_CASE("mountinfo: octal escapes in paths and source are undone") {
  auto m = parse_mountinfo_line(kSpace);
  REQUIRE(m.has_value());
  CHECK(m->mount_point == "/tmp/mi.rP6b/a b");
  CHECK(m->source == "my src");
  auto b = parse_mountinfo_line(kBackslash);
  REQUIRE(b.has_value());
  CHECK(b->mount_point == "/tmp/mi.rP6b/c/t\\back");

  CHECK(unescape_mountinfo("a\\011b\\012c\\134d") == "a\tb\nc\\d");
  CHECK(unescape_mountinfo("\\0401") == " 1");  // exactly three digits
  // Not an escape: kept as written.
  CHECK(unescape_mountinfo("a\\04") == "a\\04");
  CHECK(unescape_mountinfo("a\\") == "a\\");
  CHECK(unescape_mountinfo("\\400") == "\\400");  // above \377
  CHECK(unescape_mountinfo("\\08x") == "\\08x");
  CHECK(unescape_mountinfo("\\000") == std::string(1, '\0'));
}

TEST_CASE("mountinfo: optional fields and shared propagation") {
  auto shared = parse_mountinfo_line(kShared);
  REQUIRE(shared.has_value());
  CHECK(shared->optional_fields == std::vector<std::string>{"shared:1"});
  CHECK(shared->shared());
  CHECK(shared->fstype == "tmpfs");

  auto slave = parse_mountinfo_line(kSlave);
  REQUIRE(slave.has_value());
  CHECK(slave->optional_fields == std::vector<std::string>{"master:1"});
  CHECK_FALSE(slave->shared());  // receives propagation, sends none

  auto both = parse_mountinfo_line(kSharedSlave);
  REQUIRE(both.has_value());
  CHECK(both->optional_fields == std::vector<std::string>{"shared:2", "master:1"});
  CHECK(both->shared());
  CHECK(both->source == "none");
}

TEST_CASE("mountinfo: a vprocd mount and one of its files bound elsewhere") {
  auto mp = parse_mountinfo_line(kVprocd);
  REQUIRE(mp.has_value());
  CHECK(mp->fstype == "fuse.vprocd");
  CHECK(mp->source == "vprocd");
  CHECK(mp->options == "ro,nosuid,nodev,relatime");
  auto bound = parse_mountinfo_line(kVprocdBound);
  REQUIRE(bound.has_value());
  CHECK(bound->root == "/proc/meminfo");
  CHECK(bound->mount_point == "/tmp/mivp.PKfh/p/meminfo");
  CHECK(bound->parent == 66u);
  CHECK(bound->major == mp->major);
  CHECK(bound->minor == mp->minor);
}

TEST_CASE("mountinfo: a source may be empty, later kernels' extra fields are ignored") {
  auto empty = parse_mountinfo_line("30 22 0:27 / /x rw - tmpfs  rw,mode=755");
  REQUIRE(empty.has_value());
  CHECK(empty->source.empty());
  CHECK(empty->super_options == "rw,mode=755");
  auto extra = parse_mountinfo_line("30 22 0:27 / /x rw - tmpfs t rw future");
  REQUIRE(extra.has_value());
  CHECK(extra->super_options == "rw");
}

TEST_CASE("mountinfo: malformed lines are nullopt") {
  for (const char* bad : {
           "", "garbage",
           "21 26 0:20 / /proc rw,relatime proc proc rw",       // no "-"
           "21 26 0:20 / /proc rw,relatime - proc proc",        // no super options
           "21 26 0:20 / /proc rw,relatime -",                  // nothing after "-"
           "x 26 0:20 / /proc rw,relatime - proc proc rw",      // id
           "-1 26 0:20 / /proc rw,relatime - proc proc rw",     // id
           "21 26 0-20 / /proc rw,relatime - proc proc rw",     // device
           "21 26 0: / /proc rw,relatime - proc proc rw",       // device
           "21 26 0:20:1 / /proc rw,relatime - proc proc rw",   // device
           "21 26 4294967296:0 / /proc rw - proc proc rw",      // major overflow
           "99999999999999999999 26 0:20 / /p rw - proc p rw",  // id overflow
           "21 26 0:20  /proc rw,relatime - proc proc rw",      // empty root
           "21 26 0:20 / /proc rw,relatime  - proc proc rw",    // empty optional field
           "21 26 0:20 / /proc rw,relatime -  proc rw",         // empty fstype
           " 21 26 0:20 / /proc rw,relatime - proc proc rw",    // leading space
       }) {
    CAPTURE(bad);
    CHECK_FALSE(parse_mountinfo_line(bad).has_value());
  }
  // Every line cut short before its last field starts breaks the format.
  for (const char* real : {kRoot, kShared, kSharedSlave, kVprocdBound}) {
    std::string line = real;
    for (size_t n = 0; n < line.rfind(' '); ++n) {
      CAPTURE(line.substr(0, n));
      CHECK_FALSE(parse_mountinfo_line(line.substr(0, n)).has_value());
    }
  }
}

TEST_CASE("mountinfo: a whole table keeps order, drops bad lines, finds by id") {
  std::string text = std::string(kProc) + "\n" + kRoot + "\nnot a mount\n\n" + kShared + "\n" +
                     kSlave;  // no newline at the end
  std::vector<MountInfo> all = parse_mountinfo(text);
  REQUIRE(all.size() == 4);
  CHECK(all[0].id == 21u);
  CHECK(all[1].id == 26u);
  CHECK(all[2].id == 66u);
  CHECK(all[3].id == 67u);
  const MountInfo* slave = vproc::find_mount(all, 67);
  REQUIRE(slave != nullptr);
  const MountInfo* parent = vproc::find_mount(all, slave->parent);
  REQUIRE(parent != nullptr);
  CHECK(parent->mount_point == "/tmp/mi.rP6b/c");
  CHECK(vproc::find_mount(all, 1) == nullptr);
  CHECK(parse_mountinfo("").empty());
  CHECK(parse_mountinfo("\n\n").empty());
}

TEST_CASE("mountinfo: every line of this process's live table parses") {
  auto text = vproc::read_file_at(AT_FDCWD, "/proc/self/mountinfo");
  REQUIRE(text.has_value());
  size_t lines = 0;
  for (char c : *text) lines += c == '\n';
  std::vector<MountInfo> all = parse_mountinfo(*text);
  CHECK(all.size() == lines);
  bool root = false;
  for (const MountInfo& m : all) root = root || m.mount_point == "/";
  CHECK(root);
}
