#include "lib/core/parse.h"

#include <algorithm>
#include <charconv>
#include <functional>
#include <limits>
#include <span>

#include "lib/base/io.h"
#include "lib/base/sys_error.h"
#include "lib/core/text.h"

namespace vproc::core {

namespace {

[[noreturn]] void malformed(const std::string& file, std::string_view detail) {
  throw SysError("parse", file, "malformed (" + std::string(detail.substr(0, 60)) + ")");
}

uint64_t to_u64(std::string_view tok, const std::string& file) {
  auto v = parse_u64(tok);
  if (!v) malformed(file, tok);
  return *v;
}

int to_cpu(std::string_view tok, const std::string& file) {
  auto v = parse_u64(tok);
  if (!v || *v > 65535) malformed(file, tok);
  return static_cast<int>(*v);
}

}  // namespace

std::vector<int> online_cpus_of_stat(std::string_view proc_stat) {
  std::vector<int> cpus;
  for (auto line : split(proc_stat, '\n')) {
    if (line.size() < 4 || line.substr(0, 3) != "cpu" || line[3] == ' ') continue;
    auto sp = line.find(' ');
    if (auto id = parse_u64(line.substr(3, sp - 3)); id && *id <= 1u << 20) {
      cpus.push_back(static_cast<int>(*id));
    }
  }
  return cpus;
}

std::vector<int> parse_cpu_list(std::string_view text) {
  // Merge the ranges before expanding them: "0-65535" repeated must not cost
  // a set insert per id per repeat.
  std::vector<std::pair<int, int>> ranges;
  for (std::string_view part : split(trim(text), ',')) {
    part = trim(part);
    if (part.empty()) continue;
    auto dash = part.find('-');
    if (dash == std::string_view::npos) {
      int c = to_cpu(part, "cpu list");
      ranges.emplace_back(c, c);
    } else {
      int lo = to_cpu(part.substr(0, dash), "cpu list");
      int hi = to_cpu(part.substr(dash + 1), "cpu list");
      if (hi < lo) malformed("cpu list", part);
      ranges.emplace_back(lo, hi);
    }
  }
  std::sort(ranges.begin(), ranges.end());
  std::vector<int> cpus;
  int next = 0;  // the lowest id not yet emitted
  for (const auto& [lo, hi] : ranges) {
    for (int c = std::max(lo, next); c <= hi; ++c) cpus.push_back(c);
    next = std::max(next, hi + 1);
  }
  return cpus;
}

std::string format_cpu_list(const std::vector<int>& cpus) {
  std::string out;
  for (size_t i = 0; i < cpus.size();) {
    size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(cpus[i]);
    if (j > i) out += '-' + std::to_string(cpus[j]);
    i = j + 1;
  }
  return out;
}

std::optional<uint64_t> parse_limit(std::string_view text, const std::string& file) {
  text = trim(text);
  if (text == "max" || text == "-1") return std::nullopt;
  uint64_t v = to_u64(text, file);
  if (v >= kV1Unlimited) return std::nullopt;
  return v;
}

std::optional<CpuQuota> parse_cpu_max(std::string_view text, const std::string& file) {
  auto toks = split_ws(trim(text));
  if (toks.size() != 2) malformed(file, text);
  uint64_t period = to_u64(toks[1], file);
  if (toks[0] == "max") return std::nullopt;
  uint64_t quota = to_u64(toks[0], file);
  if (period == 0) malformed(file, text);
  return CpuQuota{quota, period};
}

uint64_t parse_number(std::string_view text, const std::string& file) {
  return to_u64(trim(text), file);
}

std::optional<int64_t> parse_signed(std::string_view text, const std::string& file) {
  text = trim(text);
  int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size()) malformed(file, text);
  if (v < 0) return std::nullopt;
  return v;
}

namespace {

// The first two whitespace-separated tokens of s (empty when missing), and
// whether anything follows them. No allocation.
struct TwoTokens {
  std::string_view first, second;
  bool more = false;
};
TwoTokens two_tokens(std::string_view s) {
  TwoTokens t;
  t.first = next_token(&s);
  t.second = next_token(&s);
  t.more = !next_token(&s).empty();
  return t;
}

// Calls fn(key, value token) for each "key value" line, without allocating.
template <typename Fn>
void for_each_key_value(std::string_view text, const std::string& file, Fn fn) {
  for_each_line(text, [&](std::string_view line) {
    TwoTokens t = two_tokens(line);
    if (t.first.empty()) return;                            // blank
    if (t.second.empty() || t.more) malformed(file, line);  // not exactly two tokens
    fn(t.first, t.second);
  });
}

}  // namespace

KeyedValues parse_flat_keyed(std::string_view text, const std::string& file) {
  KeyedValues out;
  for_each_key_value(text, file, [&](std::string_view k, std::string_view v) {
    out[std::string(k)] = to_u64(v, file);
  });
  return out;
}

KeyedValues parse_flat_keyed(std::string_view text, const std::string& file,
                             std::span<const std::string_view> keys) {
  KeyedValues out;
  for_each_key_value(text, file, [&](std::string_view k, std::string_view v) {
    uint64_t n = to_u64(v, file);  // every line is checked, kept or not
    if (std::find(keys.begin(), keys.end(), k) != keys.end()) out[std::string(k)] = n;
  });
  return out;
}

std::span<const std::string_view> v1_memory_stat_keys() {
  static const std::string_view kKeys[] = {
      "total_cache",
      "total_rss",
      "total_rss_huge",
      "total_shmem",
      "total_mapped_file",
      "total_dirty",
      "total_writeback",
      "total_inactive_anon",
      "total_active_anon",
      "total_inactive_file",
      "total_active_file",
      "total_unevictable",
      "total_swapcached",
      "hierarchical_memory_limit",
      "hierarchical_memsw_limit",
  };
  return kKeys;
}

KeyedValues v1_memory_stat_to_v2(const KeyedValues& v1) {
  // Hierarchical (total_*) keys include descendants, as v2's memory.stat does.
  static const std::pair<const char*, const char*> kMap[] = {
      {"total_cache", "file"},
      {"total_rss", "anon"},
      {"total_rss_huge", "anon_thp"},
      {"total_shmem", "shmem"},
      {"total_mapped_file", "file_mapped"},
      {"total_dirty", "file_dirty"},
      {"total_writeback", "file_writeback"},
      {"total_inactive_anon", "inactive_anon"},
      {"total_active_anon", "active_anon"},
      {"total_inactive_file", "inactive_file"},
      {"total_active_file", "active_file"},
      {"total_unevictable", "unevictable"},
      {"total_swapcached", "swapcached"},
  };
  KeyedValues out;
  for (const auto& [from, to] : kMap) {
    auto it = v1.find(from);
    if (it != v1.end()) out[to] = it->second;
  }
  return out;
}

std::map<int, CpuUsage> parse_cpuacct_usage_all(std::string_view text, const std::string& file) {
  std::map<int, CpuUsage> out;
  bool header = true;
  for (std::string_view line : split(text, '\n')) {
    if (trim(line).empty()) continue;
    auto toks = split_ws(line);
    if (header) {
      header = false;
      if (toks.size() == 3 && toks[0] == "cpu") continue;
      malformed(file, line);
    }
    if (toks.size() != 3) malformed(file, line);
    out[to_cpu(toks[0], file)] = CpuUsage{to_u64(toks[1], file), to_u64(toks[2], file)};
  }
  if (header) malformed(file, "empty");
  return out;
}

std::vector<uint64_t> parse_cpuacct_usage_percpu(std::string_view text, const std::string& file) {
  std::vector<uint64_t> out;
  for (auto tok : split_ws(text)) out.push_back(to_u64(tok, file));
  return out;
}

IoReadings parse_io_stat(std::string_view text, const std::string& file) {
  IoReadings out;
  for (std::string_view line : split(text, '\n')) {
    auto toks = split_ws(line);
    if (toks.empty()) continue;
    IoStat& s = out[std::string(toks[0])];
    for (size_t i = 1; i < toks.size(); ++i) {
      auto eq = toks[i].find('=');
      if (eq == std::string_view::npos) malformed(file, toks[i]);
      auto key = toks[i].substr(0, eq);
      auto val = toks[i].substr(eq + 1);
      // Newer kernels add keys (e.g. cost.*); only the six counters matter.
      if (key == "rbytes")
        s.rbytes = to_u64(val, file);
      else if (key == "wbytes")
        s.wbytes = to_u64(val, file);
      else if (key == "rios")
        s.rios = to_u64(val, file);
      else if (key == "wios")
        s.wios = to_u64(val, file);
      else if (key == "dbytes")
        s.dbytes = to_u64(val, file);
      else if (key == "dios")
        s.dios = to_u64(val, file);
    }
  }
  return out;
}

IoReadings parse_blkio_v1(std::string_view bytes, std::string_view serviced,
                          const std::string& file) {
  IoReadings out;
  auto apply = [&](std::string_view text, bool is_bytes) {
    for (std::string_view line : split(text, '\n')) {
      auto toks = split_ws(line);
      if (toks.empty()) continue;
      if (toks.size() == 2 && toks[0] == "Total") continue;
      if (toks.size() != 3) malformed(file, line);
      IoStat& s = out[std::string(toks[0])];
      uint64_t v = to_u64(toks[2], file);
      if (toks[1] == "Read")
        (is_bytes ? s.rbytes : s.rios) = v;
      else if (toks[1] == "Write")
        (is_bytes ? s.wbytes : s.wios) = v;
      else if (toks[1] == "Discard")
        (is_bytes ? s.dbytes : s.dios) = v;
    }
  };
  apply(bytes, true);
  apply(serviced, false);
  return out;
}

ProcCgroup parse_proc_cgroup(std::string_view text, const std::string& file) {
  ProcCgroup out;
  for (std::string_view line : split(text, '\n')) {
    if (trim(line).empty()) continue;
    auto c1 = line.find(':');
    auto c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
    if (c2 == std::string_view::npos) malformed(file, line);
    auto hier = line.substr(0, c1);
    auto ctrls = line.substr(c1 + 1, c2 - c1 - 1);
    std::string path(line.substr(c2 + 1));
    if (path.empty() || path[0] != '/') malformed(file, line);
    if (hier == "0" && ctrls.empty()) {
      out.unified = path;
      continue;
    }
    for (auto c : split(ctrls, ',')) {
      if (c.empty() || c.substr(0, 5) == "name=") continue;
      out.v1[std::string(c)] = path;
    }
  }
  return out;
}

std::optional<PidStat> try_parse_pid_stat(std::string_view text) {
  // The command name may hold spaces and parentheses: the last ')' ends it.
  auto close = text.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  std::string_view rest = text.substr(close + 1);
  std::string_view state = next_token(&rest);  // field 3
  std::string_view ppid = next_token(&rest);   // field 4
  std::string_view start;
  for (int field = 5; field <= 22; ++field) start = next_token(&rest);
  if (state.size() != 1 || start.empty()) return std::nullopt;
  PidStat s;
  s.state = state[0];
  int64_t pp = 0;
  auto [p, ec] = std::from_chars(ppid.data(), ppid.data() + ppid.size(), pp);
  if (ec != std::errc() || p != ppid.data() + ppid.size()) return std::nullopt;
  s.ppid = pp > 0 ? static_cast<long>(pp) : 0;
  auto st = parse_u64(start);
  if (!st) return std::nullopt;
  s.starttime = *st;
  return s;
}

PidStat parse_pid_stat(std::string_view text, const std::string& file) {
  auto s = try_parse_pid_stat(text);
  if (!s) malformed(file, text);
  return *s;
}

uint64_t parse_uptime_ticks(std::string_view text, const std::string& file) {
  auto toks = split_ws(text);
  if (toks.empty()) malformed(file, text);
  auto dot = toks[0].find('.');
  uint64_t secs = to_u64(toks[0].substr(0, dot), file);
  uint64_t frac = 0;
  if (dot != std::string_view::npos) {
    auto f = toks[0].substr(dot + 1);
    if (f.size() != 2) malformed(file, text);
    frac = to_u64(f, file);
  }
  return secs * kUserHz + frac;
}

void scan_meminfo(std::string_view text, const std::string& file,
                  const std::function<void(std::string_view, uint64_t, bool)>& line_fn) {
  for_each_line(text, [&](std::string_view line) {
    if (trim(line).empty()) return;
    auto colon = line.find(':');
    if (colon == std::string_view::npos) malformed(file, line);
    // "<value>" or "<value> kB" after the colon, nothing else.
    TwoTokens t = two_tokens(line.substr(colon + 1));
    if (t.first.empty() || t.more) malformed(file, line);
    line_fn(line.substr(0, colon), to_u64(t.first, file), !t.second.empty());
  });
}

std::vector<MeminfoLine> parse_meminfo(std::string_view text, const std::string& file) {
  std::vector<MeminfoLine> out;
  out.reserve(64);
  scan_meminfo(text, file, [&](std::string_view key, uint64_t value, bool kb) {
    out.push_back(MeminfoLine{std::string(key), value, kb});
  });
  return out;
}

std::optional<uint64_t> meminfo_value(const std::vector<MeminfoLine>& lines, std::string_view key) {
  for (const auto& l : lines) {
    if (l.key == key) return l.value;
  }
  return std::nullopt;
}

}  // namespace vproc::core
