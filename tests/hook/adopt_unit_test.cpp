// lib/registry/adopt: which mounts of a container's table vprocd adopts after a
// restart. The table is in the shape of a runc container's (Linux 6.18, this
// machine) with lxcfs-style binds of vprocd's files, stacked and covered mounts.
#include <doctest/doctest.h>
#include <sys/sysmacros.h>

#include <string>

#include "lib/registry/adopt.h"

using vproc::adoptable_mounts;
using vproc::parse_mountinfo;
using vproc::source_of_root;

TEST_CASE("source_of_root: per-reader and view roots name served files") {
  CHECK(source_of_root("/proc/meminfo") == "proc/meminfo");
  CHECK(source_of_root("/sys/devices/system/cpu/online") == "sys/devices/system/cpu/online");
  CHECK(source_of_root("/1234-98765/proc/stat") == "proc/stat");
  CHECK(source_of_root("/proc/pressure/cpu") == "proc/pressure/cpu");
  CHECK(source_of_root("/") == "");             // the whole mount (a directory volume)
  CHECK(source_of_root("/proc") == "");         // a directory
  CHECK(source_of_root("/proc/self") == "");    // not a served file
  CHECK(source_of_root("proc/meminfo") == "");  // not absolute
  CHECK(source_of_root("/12-x/proc/stat") == "");
  CHECK(source_of_root("/1234-5/1-2/proc/stat") == "");  // one view level only
  CHECK(source_of_root("") == "");
}

TEST_CASE("adoptable_mounts: foreign vprocd binds, topmost per target, own and others left out") {
  const std::string table =
      "600 550 254:0 /rootfs / rw,relatime - ext4 /dev/vda rw\n"
      "601 600 0:60 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n"
      // a dead vprocd's meminfo (0:40), an lxcfs cpuinfo, ours (0:71) on stat
      "602 601 0:40 /proc/meminfo /proc/meminfo ro,nosuid,nodev,noexec - fuse.vprocd vprocd "
      "ro,user_id=0,group_id=0,default_permissions,allow_other\n"
      "603 601 0:45 /proc/cpuinfo /proc/cpuinfo ro - fuse.lxcfs lxcfs rw,user_id=0\n"
      "604 601 0:71 /proc/stat /proc/stat ro - fuse.vprocd vprocd ro\n"
      // uptime: a view file of a dead instance, then ours on top (already re-attached)
      "605 601 0:41 /77-5000/proc/uptime /proc/uptime ro - fuse.vprocd vprocd ro\n"
      "606 605 0:71 /proc/uptime /proc/uptime ro - fuse.vprocd vprocd ro\n"
      // swaps: dead vprocd, covered by a tmpfs
      "607 601 0:40 /proc/swaps /proc/swaps ro - fuse.vprocd vprocd ro\n"
      "608 607 0:80 / /proc/swaps ro - tmpfs tmpfs ro\n"
      // a whole-directory volume and an unknown root
      "609 600 0:40 / /var/lib/vproc ro - fuse.vprocd vprocd ro\n"
      "610 601 0:40 /proc/nothing /proc/loadavg ro - fuse.vprocd vprocd ro\n"
      // the CPU directory's online, from a dead view
      "611 600 0:41 /77-5000/sys/devices/system/cpu/online /sys/devices/system/cpu/online ro - "
      "fuse.vprocd vprocd ro\n"
      "612 601 0:40 /proc/pressure/io /proc/pressure/io ro - fuse.vprocd vprocd ro\n";
  auto got = adoptable_mounts(parse_mountinfo(table), {makedev(0, 71), makedev(0, 72)});
  REQUIRE(got.size() == 3);
  CHECK(got[0].target == "proc/meminfo");
  CHECK(got[0].source == "proc/meminfo");
  CHECK(got[0].dev == makedev(0, 40));
  CHECK_FALSE(got[0].optional);
  CHECK(got[1].target == "proc/pressure/io");
  CHECK(got[1].optional);  // served only where the host has PSI
  CHECK(got[2].target == "sys/devices/system/cpu/online");
  CHECK(got[2].source == "sys/devices/system/cpu/online");
  CHECK(got[2].dev == makedev(0, 41));
}

TEST_CASE("adoptable_mounts: a container that never used vproc has nothing to adopt") {
  const std::string table =
      "600 550 254:0 /rootfs / rw,relatime - ext4 /dev/vda rw\n"
      "601 600 0:60 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n"
      "603 601 0:45 /proc/meminfo /proc/meminfo ro - fuse.lxcfs lxcfs rw,user_id=0\n";
  CHECK(adoptable_mounts(parse_mountinfo(table), {}).empty());
}
