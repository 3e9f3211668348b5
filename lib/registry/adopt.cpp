#include "lib/registry/adopt.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <optional>

#include "lib/base/io.h"
#include "lib/base/sys_error.h"
#include "lib/files/files.h"
#include "lib/inject/forked.h"
#include "lib/inject/mount_inject.h"
#include "lib/proc/identity.h"

namespace vproc {

namespace {

constexpr const char* kVprocFsType = "fuse.vprocd";

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "PID-START": a container's directory in a view.
bool is_view_dir(std::string_view s) {
  std::size_t dash = s.find('-');
  return dash != std::string_view::npos && all_digits(s.substr(0, dash)) &&
         all_digits(s.substr(dash + 1));
}

// source -> its row, for every served file.
const ServedFile* row_of_source(const std::string& source) {
  static const std::map<std::string, const ServedFile*> rows = [] {
    std::map<std::string, const ServedFile*> r;
    for (const ServedFile& f : served_files()) r.emplace(f.source, &f);
    return r;
  }();
  auto it = rows.find(source);
  return it == rows.end() ? nullptr : it->second;
}

// A namespace with mounts to adopt, and the process to reach it through.
struct Candidate {
  pid_t pid = 0;
  std::uint64_t start_time = 0;
  std::uint64_t ns = 0;
  std::vector<AdoptMount> mounts;
};

// The candidate PID stands for, or nullopt when its namespace is one to
// leave alone (already seen, the host's, registered) or has nothing to adopt.
std::optional<Candidate> examine(pid_t pid, const AdoptOptions& opt,
                                 std::set<std::uint64_t>& seen) {
  std::optional<ProcessIdentity> id = identify(pid);
  if (!id || !seen.insert(id->mnt_ns).second) return std::nullopt;
  std::optional<std::string> text = read_file_at(host_proc(), std::to_string(pid) + "/mountinfo");
  if (!text) return std::nullopt;
  std::vector<AdoptMount> mounts = adoptable_mounts(parse_mountinfo(*text), opt.own_devs);
  if (mounts.empty()) return std::nullopt;
  return Candidate{pid, id->start_time, id->mnt_ns, std::move(mounts)};
}

// Every namespace with something to adopt, one process each.
std::vector<Candidate> find_candidates(const AdoptOptions& opt) {
  std::set<std::uint64_t> seen = opt.skip_ns;
  std::optional<std::uint64_t> own = mount_ns_inode(static_cast<int>(::getpid()));
  if (own) seen.insert(*own);
  if (std::uint64_t init = init_mount_ns()) seen.insert(init);
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir("/proc"), ::closedir);
  if (!dir) throw SysError("opendir", "/proc", errno);
  std::vector<Candidate> out;
  while (dirent* d = ::readdir(dir.get())) {
    if (!all_digits(d->d_name)) continue;
    try {
      std::optional<Candidate> c = examine(std::atoi(d->d_name), opt, seen);
      if (c) out.push_back(std::move(*c));
    } catch (const std::exception&) {
      // A process that vanished or whose files we may not read: not ours to adopt.
    }
  }
  return out;
}

// Whether the connection behind the mount at target (inside root) is dead.
// A live one answers statfs (it may hang: this runs in a child with a
// deadline); "" when dead, else why it stays.
std::string check_dead(int root, const AdoptMount& m) {
  std::string reason;
  UniqueFd fd = open_in_root(root, m.target, &reason);
  if (!fd) return reason;
  struct statfs sfs {};
  if (::fstatfs(fd.get(), &sfs) == 0) return "served by a live vprocd elsewhere";
  if (errno == ENOTCONN) return "";
  return std::string("statfs: ") + std::strerror(errno);
}

std::string ns_name(const Candidate& c) {
  return "mount namespace mnt:[" + std::to_string(c.ns) + "] (pid " + std::to_string(c.pid) + ")";
}

// In the child: replaces c's dead mounts with this instance's files.
void adopt_one(const AdoptOptions& opt, const Candidate& c, int out) {
  UniqueFd root = open_at(host_proc(), std::to_string(c.pid) + "/root", O_PATH | O_DIRECTORY);
  InjectRequest req;
  req.pid = c.pid;
  req.pid_start_time = c.start_time;
  req.mnt_ns = c.ns;
  req.source_dirfd = opt.source_root;
  req.replace = true;
  for (const AdoptMount& m : c.mounts) {
    bool old = std::find(opt.old_devs.begin(), opt.old_devs.end(), m.dev) != opt.old_devs.end();
    std::string why = old ? "" : check_dead(root.get(), m);
    if (why.empty()) {
      req.files.push_back({m.source, m.target, m.optional});
    } else if (why != "served by a live vprocd elsewhere") {
      report_note(out, ns_name(c) + ": left " + m.target + ": " + why);
    }
  }
  if (req.files.empty()) return;
  int replaced = 0;
  for (const InjectOutcome& o : inject_files(req)) {
    if (o.status == InjectStatus::kMounted) {
      ++replaced;
    } else if (o.reason != kAlreadyAttached) {
      report_note(out, ns_name(c) + ": skipped " + o.target + ": " + o.reason);
    }
  }
  report_files(out, replaced);
  if (replaced > 0) {
    report_note(out, ns_name(c) + ": adopted, " + std::to_string(replaced) + " file(s) replaced");
  }
}

void merge(const Candidate& c, const ForkedResult& r, AdoptReport& rep) {
  if (!r.ok) {
    ++rep.failed;
    rep.lines.push_back(ns_name(c) + ": adoption " + (r.timed_out ? "skipped: " : "failed: ") +
                        r.error);
    return;
  }
  FileReport fr = parse_file_report(r.text);
  rep.files += fr.files;
  if (fr.files > 0) ++rep.namespaces;
  rep.lines.insert(rep.lines.end(), fr.lines.begin(), fr.lines.end());
}

}  // namespace

std::string source_of_root(const std::string& root) {
  std::string_view r = root;
  if (r.empty() || r.front() != '/') return "";
  r.remove_prefix(1);
  std::size_t slash = r.find('/');
  if (slash != std::string_view::npos && is_view_dir(r.substr(0, slash)))
    r.remove_prefix(slash + 1);
  std::string source(r);
  return row_of_source(source) ? source : "";
}

std::vector<AdoptMount> adoptable_mounts(const std::vector<MountInfo>& mounts,
                                         const std::vector<dev_t>& own_devs) {
  std::map<std::string, AdoptMount> by_target;  // later lines are on top
  for (const MountInfo& m : mounts) {
    if (m.mount_point.size() < 2 || m.mount_point.front() != '/') continue;
    std::string target = m.mount_point.substr(1);
    if (m.fstype != kVprocFsType) {
      by_target.erase(target);  // covered by something else now
      continue;
    }
    dev_t dev = makedev(m.major, m.minor);
    std::string source = source_of_root(m.root);
    if (source.empty() || std::find(own_devs.begin(), own_devs.end(), dev) != own_devs.end()) {
      by_target.erase(target);
      continue;
    }
    by_target[target] = {target, source, dev, row_of_source(source)->needs_psi};
  }
  std::vector<AdoptMount> out;
  for (auto& [target, m] : by_target) out.push_back(std::move(m));
  return out;
}

AdoptReport adopt_unregistered(const AdoptOptions& opt) {
  AdoptReport rep;
  std::vector<Candidate> cands = find_candidates(opt);
  auto job = [&](std::size_t i, int out) { adopt_one(opt, cands[i], out); };
  std::vector<ForkedResult> results =
      run_forked(cands.size(), job, opt.per_container_limit, opt.parallel);
  for (std::size_t i = 0; i < cands.size(); ++i) merge(cands[i], results[i], rep);
  return rep;
}

}  // namespace vproc
