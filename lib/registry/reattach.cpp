#include "lib/registry/reattach.h"

#include <dirent.h>
#include <fcntl.h>

#include <exception>
#include <map>
#include <optional>

#include "lib/base/io.h"
#include "lib/files/files.h"
#include "lib/inject/attach.h"
#include "lib/inject/forked.h"
#include "lib/inject/mount_inject.h"
#include "lib/registry/registry.h"

namespace vproc {

namespace {

// target (relative to the rootfs) -> its row
const std::map<std::string, const ServedFile*>& rows_by_target() {
  static const std::map<std::string, const ServedFile*> m = [] {
    std::map<std::string, const ServedFile*> r;
    for (const ServedFile& f : injectable_files()) r.emplace(f.target, &f);
    return r;
  }();
  return m;
}

// The record of `id`, or nullopt when it is not one to re-attach (gone,
// unreadable or for another mountpoint; counted in rep).
std::optional<RegistryEntry> read_record(const ReattachOptions& opt, const std::string& id,
                                         ReattachReport& rep) {
  std::optional<RegistryEntry> e;
  try {
    e = read_entry(opt.registry_dir, id);
  } catch (const std::exception& ex) {
    ++rep.skipped;
    rep.lines.push_back("skipped registry record " + id + ": " + ex.what());
    return std::nullopt;
  }
  if (e && e->mountpoint != opt.mountpoint) {
    ++rep.skipped;
    return std::nullopt;
  }
  return e;
}

// Gives one live container fresh files and rewrites its record. Throws on
// failure (the record is kept for the next pass).
void reattach_one(const ReattachOptions& opt, RegistryEntry& e, ReattachReport& rep) {
  InjectRequest req;
  req.pid = e.pid;
  req.pid_start_time = e.pid_start_time;
  req.mnt_ns = e.mnt_ns;
  req.source_dirfd = opt.source_root;
  req.replace = true;
  // The container's directory in the view, else the per-reader files.
  std::string prefix;
  if (e.container_view && !opt.view_dir.empty()) {
    req.source_dirfd = AT_FDCWD;
    prefix =
        opt.view_dir + "/" + std::to_string(e.pid) + "-" + std::to_string(e.pid_start_time) + "/";
  }
  e.container_view = !prefix.empty();
  for (const std::string& target : e.files) {
    auto it = rows_by_target().find(target);
    if (it == rows_by_target().end()) continue;  // not a file this vprocd serves
    req.files.push_back({prefix + it->second->source, target, it->second->needs_psi});
  }
  // Registered at createRuntime, the rootfs was a host path; once the
  // container has pivoted, its root is "/" in its own namespace.
  req.rootfs = before_pivot(e.pid) ? e.rootfs : "/";
  std::vector<InjectOutcome> outcomes = inject_files(req);
  for (const InjectOutcome& o : outcomes) {
    if (o.status == InjectStatus::kMounted) {
      ++rep.files;
    } else if (!recorded(o)) {
      rep.lines.push_back("container " + e.id + ": skipped " + o.target + ": " + o.reason);
    }
  }
  // Rewritten even when no file is recorded: the container stays registered.
  record_outcomes(e, outcomes);
  write_entry(opt.registry_dir, e);
}

// Adds what the child that re-attached e said to rep.
void merge(const RegistryEntry& e, const ForkedResult& r, ReattachReport& rep) {
  if (!r.ok) {
    // One container of the registry: report it and go on with the next.
    ++rep.failed;
    rep.lines.push_back("container " + e.id + " (pid " + std::to_string(e.pid) + "): re-attach " +
                        (r.timed_out ? "skipped: " : "failed: ") + r.error);
    return;
  }
  ++rep.attached;
  FileReport fr = parse_file_report(r.text);
  rep.files += fr.files;
  rep.lines.insert(rep.lines.end(), fr.lines.begin(), fr.lines.end());
}

}  // namespace

ReattachReport reattach_registry(const ReattachOptions& opt) {
  ReattachReport rep;
  std::vector<RegistryEntry> live;
  for (const std::string& id : registered_ids(opt.registry_dir)) {
    std::optional<RegistryEntry> e = read_record(opt, id, rep);
    if (!e) continue;
    if (!same_process(e->pid, e->pid_start_time, e->mnt_ns)) {
      // Gone, or the pid now names another process: forget it, touch nothing.
      remove_entry(opt.registry_dir, e->id);
      ++rep.pruned;
      rep.lines.push_back("pruned " + e->id + ": pid " + std::to_string(e->pid) +
                          " exited or was reused");
      continue;
    }
    rep.namespaces.insert(e->mnt_ns);
    live.push_back(std::move(*e));
  }
  // Each container in a child of its own, with a deadline: one whose mounts
  // hang (its own FUSE server over /proc that never answers) is given up on
  // and the others are attached all the same.
  auto job = [&](std::size_t i, int out) {
    ReattachReport one;
    reattach_one(opt, live[i], one);
    report_files(out, one.files);
    for (const std::string& l : one.lines) report_note(out, l);
  };
  std::vector<ForkedResult> results =
      run_forked(live.size(), job, opt.per_container_limit, opt.parallel);
  for (std::size_t i = 0; i < live.size(); ++i) merge(live[i], results[i], rep);
  return rep;
}

}  // namespace vproc
