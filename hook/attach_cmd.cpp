#include "hook/attach_cmd.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <optional>
#include <string>

#include "hook/cpu_dir.h"
#include "hook/runtimes.h"
#include "hook/view.h"
#include "lib/base/io.h"
#include "lib/base/sys_error.h"
#include "lib/files/files.h"
#include "lib/inject/attach.h"
#include "lib/proc/identity.h"
#include "lib/registry/registry.h"

namespace vproc::hook {

namespace {

enum class Outcome { kDone, kSkipped, kFailed };

std::string join_names(const std::vector<std::string>& targets) {
  std::string s;
  for (const std::string& t : targets) s += (s.empty() ? "" : ", ") + file_name_of(t);
  return s;
}

class Runner {
 public:
  Runner(const AttachCommand& cmd, std::ostream& out,
         const std::function<void(const std::string&)>& err)
      : cmd_(cmd), out_(out), err_(err) {
    // Without our own namespace known, nothing could be told apart from the
    // host: refuse to run at all rather than risk mounting over its /proc.
    own_ns_ = mount_ns_inode(::getpid()).value_or(0);
    if (own_ns_ == 0) throw SysError(ESRCH, "cannot identify our own mount namespace");
    // 0 when a sandbox hides pid 1 from us: our own namespace is the one a
    // mount must never land in, and that check remains.
    init_ns_ = init_mount_ns();
  }

  int run() {
    const std::vector<std::string>& roots =
        cmd_.runtime_roots.empty() ? kDefaultRuntimeRoots : cmd_.runtime_roots;
    std::vector<FoundContainer> found = discover_containers(roots);
    return cmd_.all ? run_all(found, roots) : run_pid(found, roots);
  }

 private:
  int run_all(const std::vector<FoundContainer>& found, const std::vector<std::string>& roots) {
    if (found.empty()) err_("vproc-hook: attach: no containers recorded under " + list(roots));
    bool failed = false;
    for (const FoundContainer& f : found) {
      if (!f.error.empty()) {
        err_("vproc-hook: attach: container " + f.container.id + ": " + f.error);
        failed = true;
        continue;
      }
      if (attach_container(f.container) == Outcome::kFailed) failed = true;
    }
    return failed ? 1 : 0;
  }

  int run_pid(const std::vector<FoundContainer>& found, const std::vector<std::string>& roots) {
    const int pid = cmd_.pid;
    std::optional<ProcessIdentity> who;
    try {
      who = identify(pid);
    } catch (const SysError& e) {
      throw SysError(e.err(), "pid " + std::to_string(pid) + ": " + e.what());
    }
    if (!who) {
      err_("vproc-hook: attach: pid " + std::to_string(pid) + ": no such process");
      return 1;
    }
    if (is_host_ns(who->mnt_ns)) {
      err_("vproc-hook: attach: pid " + std::to_string(pid) +
           " is not in a container: it shares the host's mount namespace (mnt:[" +
           std::to_string(who->mnt_ns) + "]); refusing to mount over the host's /proc");
      return 1;
    }
    std::vector<LiveContainer> live;
    for (const FoundContainer& f : found) {
      if (!f.error.empty()) {
        // Not fatal here: the container asked for may well be another one.
        err_("vproc-hook: attach: ignoring container " + f.container.id + ": " + f.error);
        continue;
      }
      if (auto l = live_container(f.container)) live.push_back(*l);
    }
    if (std::optional<size_t> i = match_pid(live, pid, who->mnt_ns)) {
      return attach_container(live[*i].container) == Outcome::kFailed ? 1 : 0;
    }
    // No runtime recorded it (another runtime root, a runtime we do not know,
    // or a hand-made namespace): the caller named it, so attach it, but no
    // annotation can narrow the files or opt it out.
    err_("vproc-hook: attach: pid " + std::to_string(pid) + " matches no container under " +
         list(roots) + ": its annotations are unknown; attaching its mount namespace with the " +
         "default file set");
    std::vector<InjectFile> files;
    for (const ServedFile& k : injectable_files()) {
      files.push_back({source_of(k.source), k.target, k.needs_psi});
    }
    std::string id = "pid-" + std::to_string(pid);
    Outcome o = per_container(
        id, pid, [&] { return inject(id, pid, *who, files, " (annotations unknown)"); });
    return o == Outcome::kFailed ? 1 : 0;
  }

  // The container if its init is alive with the recorded start time.
  std::optional<LiveContainer> live_container(const RuntimeContainer& c) const {
    std::optional<ProcessIdentity> who;
    try {
      who = identify(c.pid);
    } catch (const SysError& e) {
      // One container of the list: the one asked for may well be another.
      err_("vproc-hook: attach: ignoring container " + c.id + ": " + e.what());
      return std::nullopt;
    }
    if (!who) return std::nullopt;
    if (c.start_time != 0 && who->start_time != c.start_time) return std::nullopt;
    LiveContainer l;
    l.container = c;
    l.start_time = who->start_time;
    l.mnt_ns = who->mnt_ns;
    return l;
  }

  // The error boundary of one container: its failure is reported and the
  // command goes on with the next.
  template <typename Fn>
  Outcome per_container(const std::string& id, int pid, Fn attach) {
    try {
      return attach();
    } catch (const std::exception& e) {
      err_("vproc-hook: attach: container " + id + " (pid " + std::to_string(pid) +
           "): " + e.what());
      return Outcome::kFailed;
    }
  }

  Outcome attach_container(const RuntimeContainer& c) {
    return per_container(c.id, c.pid, [&] { return attach_container_or_throw(c); });
  }

  Outcome attach_container_or_throw(const RuntimeContainer& c) {
    std::optional<ProcessIdentity> who = identify(c.pid);
    if (!who) {
      return skip(c.id, "not running (its init, pid " + std::to_string(c.pid) + ", is gone)");
    }
    if (c.start_time != 0 && who->start_time != c.start_time) {
      return skip(c.id, "not running (pid " + std::to_string(c.pid) +
                            " now belongs to another process: start time " +
                            std::to_string(who->start_time) + ", " + c.runtime + " recorded " +
                            std::to_string(c.start_time) + ")");
    }
    if (is_host_ns(who->mnt_ns)) {
      return skip(c.id,
                  "shares the host's mount namespace; refusing to mount over the host's "
                  "/proc");
    }
    if (!valid_container_id(c.id)) {
      throw InputError("id \"" + c.id + "\" cannot name a registry record ([A-Za-z0-9_.-] only)");
    }

    State st;
    st.id = c.id;
    st.pid = c.pid;
    st.bundle = c.bundle;
    st.status = "running";
    Config cfg = config_of(c);
    Plan plan = make_plan(st, cfg, cmd_.mountpoint, cmd_.policy);
    if (!plan.inject) return skip(c.id, plan.why_not);
    std::vector<InjectFile> files;
    for (const PlannedFile& f : plan.files) files.push_back({f.source, f.target, f.optional});
    return inject(c.id, c.pid, *who, files, "");
  }

  // Annotations live in the bundle's config.json. When it is gone (a bundle
  // directory removed under a running container), runc's labels still hold
  // a copy of them.
  Config config_of(const RuntimeContainer& c) const {
    if (!c.bundle.empty()) {
      std::string path = c.bundle + "/config.json";
      if (auto text = read_file_at(AT_FDCWD, path)) {
        try {
          return parse_config(*text);
        } catch (const InputError& e) {
          throw InputError(path + ": " + e.what());
        }
      }
      if (c.runtime != "runc") throw InputError(path + ": does not exist");
    } else if (c.runtime != "runc") {
      throw InputError(c.state_path + ": no bundle recorded, so no annotations to read");
    }
    Config cfg;
    cfg.root_path = "/";  // unused: a running container's rootfs is "/"
    cfg.annotations = c.label_annotations;
    return cfg;
  }

  Outcome inject(const std::string& id, int pid, const ProcessIdentity& who,
                 const std::vector<InjectFile>& files, const std::string& note) {
    std::vector<std::string> targets;
    for (const InjectFile& f : files) targets.push_back(f.target);
    std::string name = id + " (pid " + std::to_string(pid) + ")";
    if (cmd_.dry_run) {
      line("would attach " + name + ": " + join_names(targets) + note);
      return Outcome::kDone;
    }

    AttachRequest req;
    req.pid = pid;
    req.pid_start_time = who.start_time;
    req.mnt_ns = who.mnt_ns;
    req.rootfs = "/";  // the container has pivoted: its root in its own namespace
    req.mountpoint = cmd_.mountpoint;
    req.files = files;
    req.replace = true;
    std::string cpu_note = plan_cpu_dir(req, cmd_.registry_dir);
    if (!cpu_note.empty()) err_("vproc-hook: attach: " + id + ": " + cpu_note);
    bool from_view = false;
    if (cmd_.container_view) {
      std::string view_note = use_container_view(req, cmd_.registry_dir, who.start_time);
      if (!view_note.empty()) err_("vproc-hook: attach: " + id + ": " + view_note);
      from_view = view_note.empty();
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(cmd_.timeout_ms);
    std::vector<InjectOutcome> outcomes = attach_bounded(req, deadline);
    register_container(id, pid, who, outcomes, from_view);

    std::vector<std::string> mounted;
    std::vector<InjectOutcome> skipped;
    for (const InjectOutcome& o : outcomes) {
      if (o.status == InjectStatus::kMounted) {
        mounted.push_back(o.target);
      } else {
        skipped.push_back(o);
      }
    }
    // The files first, then the CPU directory that was made for them.
    std::stable_partition(mounted.begin(), mounted.end(),
                          [](const std::string& t) { return t != kCpuDirTarget; });
    std::string skips = summarize_skips(skipped, outcomes.size());
    if (mounted.empty()) return skip(id, skips.empty() ? "nothing to mount" : skips);
    line("attached " + name + ": " + join_names(mounted) + note +
         (skips.empty() ? "" : " (skipped " + skips + ")"));
    return Outcome::kDone;
  }

  // Records the files that now serve the container, if any, for a re-attach
  // after a vprocd restart.
  void register_container(const std::string& id, int pid, const ProcessIdentity& who,
                          const std::vector<InjectOutcome>& outcomes, bool from_view) {
    RegistryEntry entry;
    entry.id = id;
    entry.pid = pid;
    entry.pid_start_time = who.start_time;
    entry.mnt_ns = who.mnt_ns;
    entry.rootfs = "/";
    entry.mountpoint = cmd_.mountpoint;
    entry.container_view = from_view;
    if (!record_outcomes(entry, outcomes)) return;
    try {
      write_entry(cmd_.registry_dir, entry);
    } catch (const SysError& e) {
      // Says what the failure leaves behind: the mounts are whole and serve
      // the container; only a re-attach after a vprocd restart will not know them.
      throw SysError(e.err(), std::string(e.what()) + "; the files stay injected but unregistered");
    }
  }

  Outcome skip(const std::string& id, const std::string& reason) {
    line("skipped " + id + ": " + reason);
    return Outcome::kSkipped;
  }

  void line(const std::string& s) { out_ << s << std::endl; }

  bool is_host_ns(std::uint64_t ns) const {
    return (own_ns_ != 0 && ns == own_ns_) || (init_ns_ != 0 && ns == init_ns_);
  }

  std::string source_of(const char* rel) const {
    std::string mp = cmd_.mountpoint;
    while (mp.size() > 1 && mp.back() == '/') mp.pop_back();
    return mp + "/" + rel;
  }

  static std::string list(const std::vector<std::string>& roots) {
    std::string s;
    for (const std::string& r : roots) s += (s.empty() ? "" : ", ") + r;
    return s;
  }

  const AttachCommand& cmd_;
  std::ostream& out_;
  const std::function<void(const std::string&)>& err_;
  std::uint64_t own_ns_ = 0;
  std::uint64_t init_ns_ = 0;
};

}  // namespace

int run_attach_command(const AttachCommand& cmd, std::ostream& out,
                       const std::function<void(const std::string&)>& err) {
  return Runner(cmd, out, err).run();
}

std::string file_name_of(const std::string& target) {
  if (target == kCpuDirTarget) return "cpu/";
  for (const ServedFile& k : injectable_files()) {
    if (target == k.target) return k.name;
  }
  return target;
}

std::string summarize_skips(const std::vector<InjectOutcome>& skipped, size_t total) {
  std::vector<std::pair<std::string, std::vector<std::string>>> groups;
  for (const InjectOutcome& o : skipped) {
    auto it = std::find_if(groups.begin(), groups.end(),
                           [&](const auto& g) { return g.first == o.reason; });
    if (it == groups.end()) {
      groups.push_back({o.reason, {o.target}});
    } else {
      it->second.push_back(o.target);
    }
  }
  if (groups.size() == 1 && groups[0].second.size() == total) return groups[0].first;
  std::string s;
  for (const auto& [reason, targets] : groups) {
    s += (s.empty() ? "" : "; ") + reason + " (" + join_names(targets) + ")";
  }
  return s;
}

}  // namespace vproc::hook
