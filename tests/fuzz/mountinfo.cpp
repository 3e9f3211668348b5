// /proc/<pid>/mountinfo: parse_mountinfo and parse_mountinfo_line (mount
// injection's checks of a container's table, vprocd's mountpoint check).
// Never throws; a parsed line written back with the kernel's escapes parses
// to the same value; the whole-text parser keeps exactly the lines the line
// parser accepts, in order.
#include "lib/inject/mountinfo.h"

#include <string>
#include <vector>

#include "tests/fuzz/fuzz_util.h"

using namespace vproc;

namespace {

// The kernel's mangling of a path-like field: space, tab, newline and
// backslash as three-digit octal escapes.
std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\\') {
      auto u = static_cast<unsigned char>(c);
      out += '\\';
      out += static_cast<char>('0' + (u >> 6));
      out += static_cast<char>('0' + ((u >> 3) & 7));
      out += static_cast<char>('0' + (u & 7));
    } else {
      out += c;
    }
  }
  return out;
}

std::string render(const MountInfo& m) {
  std::string line = std::to_string(m.id) + " " + std::to_string(m.parent) + " " +
                     std::to_string(m.major) + ":" + std::to_string(m.minor) + " " +
                     escape(m.root) + " " + escape(m.mount_point) + " " + m.options;
  for (const std::string& f : m.optional_fields) line += " " + f;
  return line + " - " + escape(m.fstype) + " " + escape(m.source) + " " + m.super_options;
}

void check_one(const MountInfo& m) {
  FUZZ_CHECK(!m.root.empty() && !m.mount_point.empty() && !m.options.empty());
  FUZZ_CHECK(!m.fstype.empty());
  for (const std::string& f : m.optional_fields) FUZZ_CHECK(!f.empty() && f != "-");
  auto again = parse_mountinfo_line(render(m));
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(*again == m);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in = fuzz::text(data, size);
  FUZZ_CHECK(unescape_mountinfo(in).size() <= in.size());
  if (auto whole = parse_mountinfo_line(in)) check_one(*whole);

  std::vector<MountInfo> all = parse_mountinfo(in);
  size_t next = 0;
  std::string_view rest = in;
  for (;;) {
    size_t nl = rest.find('\n');
    if (auto m = parse_mountinfo_line(rest.substr(0, nl))) {
      FUZZ_CHECK(next < all.size() && all[next] == *m);
      check_one(*m);
      const MountInfo* found = find_mount(all, m->id);
      FUZZ_CHECK(found != nullptr && found->id == m->id);
      ++next;
    }
    if (nl == std::string_view::npos) break;
    rest.remove_prefix(nl + 1);
  }
  FUZZ_CHECK(next == all.size());
  return 0;
}
