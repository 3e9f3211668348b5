#include "lib/inject/mountinfo.h"

#include <charconv>

namespace vproc {

namespace {

// Fields 1-6 come before the optional fields; three follow the "-".
constexpr size_t kHeadFields = 6;
constexpr size_t kTailFields = 3;

std::vector<std::string_view> split_spaces(std::string_view line) {
  std::vector<std::string_view> out;
  for (;;) {
    size_t sp = line.find(' ');
    out.push_back(line.substr(0, sp));
    if (sp == std::string_view::npos) return out;
    line.remove_prefix(sp + 1);
  }
}

// Strict: digits only, the whole token, no overflow.
template <typename T>
std::optional<T> parse_number(std::string_view s) {
  T v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

bool parse_device(std::string_view s, MountInfo& m) {
  size_t colon = s.find(':');
  if (colon == std::string_view::npos) return false;
  auto major = parse_number<std::uint32_t>(s.substr(0, colon));
  auto minor = parse_number<std::uint32_t>(s.substr(colon + 1));
  if (!major || !minor) return false;
  m.major = *major;
  m.minor = *minor;
  return true;
}

bool is_octal(char c) { return c >= '0' && c <= '7'; }

// Fields 1-6: ids, device, root, mount point, options.
bool parse_head(const std::vector<std::string_view>& f, MountInfo& m) {
  auto id = parse_number<std::uint64_t>(f[0]);
  auto parent = parse_number<std::uint64_t>(f[1]);
  if (!id || !parent || !parse_device(f[2], m)) return false;
  if (f[3].empty() || f[4].empty() || f[5].empty()) return false;
  m.id = *id;
  m.parent = *parent;
  m.root = unescape_mountinfo(f[3]);
  m.mount_point = unescape_mountinfo(f[4]);
  m.options = std::string(f[5]);
  return true;
}

}  // namespace

bool MountInfo::shared() const {
  for (const std::string& f : optional_fields) {
    if (f.rfind("shared:", 0) == 0) return true;
  }
  return false;
}

std::string unescape_mountinfo(std::string_view field) {
  std::string out;
  out.reserve(field.size());
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() && field[i + 1] >= '0' && field[i + 1] <= '3' &&
        is_octal(field[i + 2]) && is_octal(field[i + 3])) {
      out.push_back(static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 +
                                      (field[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(field[i]);
    }
  }
  return out;
}

std::optional<MountInfo> parse_mountinfo_line(std::string_view line) {
  std::vector<std::string_view> f = split_spaces(line);
  if (f.size() < kHeadFields + 1 + kTailFields) return std::nullopt;
  MountInfo m;
  if (!parse_head(f, m)) return std::nullopt;
  size_t sep = kHeadFields;
  for (; sep < f.size() && f[sep] != "-"; ++sep) {
    if (f[sep].empty()) return std::nullopt;
    m.optional_fields.emplace_back(f[sep]);
  }
  // A later kernel may append fields after the super options: ignored.
  if (f.size() - sep < 1 + kTailFields || f[sep + 1].empty()) return std::nullopt;
  m.fstype = unescape_mountinfo(f[sep + 1]);
  m.source = unescape_mountinfo(f[sep + 2]);
  m.super_options = std::string(f[sep + 3]);
  return m;
}

std::vector<MountInfo> parse_mountinfo(std::string_view text) {
  std::vector<MountInfo> out;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    if (auto m = parse_mountinfo_line(text.substr(0, nl))) out.push_back(std::move(*m));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

const MountInfo* find_mount(const std::vector<MountInfo>& mounts, std::uint64_t id) {
  for (const MountInfo& m : mounts) {
    if (m.id == id) return &m;
  }
  return nullptr;
}

}  // namespace vproc
