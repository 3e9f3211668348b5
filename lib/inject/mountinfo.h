// The one parser of /proc/PID/mountinfo (proc(5)). A line is
//
//   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 shared:2 - ext3 /dev/root rw,errors=continue
//   (1)(2) (3)   (4)   (5)      (6)      (7...)          (8) (9)   (10)      (11)
//
// mount id, parent id, major:minor, root, mount point, mount options, zero or
// more optional fields ended by a lone "-", filesystem type, source, super
// options. Fields are separated by single spaces; the kernel escapes a space,
// tab, newline or backslash inside root, mount point, type and source as a
// three-digit octal escape ("\040"), which is undone here. Pure: text in,
// values out; a line that breaks the format gives nullopt, never a throw.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vproc {

struct MountInfo {
  std::uint64_t id = 0;
  std::uint64_t parent = 0;
  std::uint32_t major = 0;
  std::uint32_t minor = 0;
  std::string root;                          // unescaped
  std::string mount_point;                   // unescaped
  std::string options;                       // per-mount options, as written
  std::vector<std::string> optional_fields;  // "shared:2", "master:1", ...
  std::string fstype;                        // unescaped, e.g. "fuse.vprocd"
  std::string source;                        // unescaped; may be empty
  std::string super_options;                 // as written

  // A peer group member: mounts and unmounts below it propagate to its peers.
  bool shared() const;
  bool operator==(const MountInfo&) const = default;
};

// One line, without its newline. nullopt when it breaks the format.
std::optional<MountInfo> parse_mountinfo_line(std::string_view line);

// A whole mountinfo file, in order (later lines are mounted on top of
// earlier ones at the same mount point). Malformed lines are left out.
std::vector<MountInfo> parse_mountinfo(std::string_view text);

// The mount with this id, or nullptr.
const MountInfo* find_mount(const std::vector<MountInfo>& mounts, std::uint64_t id);

// "\040" -> " " and the like; a backslash not followed by three octal digits
// (at most \377) stays as it is.
std::string unescape_mountinfo(std::string_view field);

}  // namespace vproc
