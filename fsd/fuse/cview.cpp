#include "fsd/fuse/cview.h"

#include <time.h>

#include <cerrno>
#include <vector>

#include "lib/base/io.h"
#include "lib/base/sys_error.h"
#include "lib/proc/identity.h"

namespace vproc::fuse {

namespace {

constexpr double kFileEntrySeconds = 3600.0;  // a container's layout never changes
constexpr double kDirEntrySeconds = 1.0;      // a gone container's name goes soon
constexpr auto kSweepEvery = std::chrono::seconds(10);
constexpr auto kDropAfter = std::chrono::seconds(10);

double seconds(std::chrono::milliseconds ms) { return static_cast<double>(ms.count()) / 1000.0; }

}  // namespace

ContainerView::ContainerView(view::ViewService* views, bool with_pressure, int proc,
                             std::chrono::milliseconds max_age)
    : views_(views), shape_(with_pressure), proc_(proc), max_age_(max_age) {
  ::clock_gettime(CLOCK_REALTIME, &started_);
}

std::optional<std::pair<pid_t, std::uint64_t>> ContainerView::parse_name(std::string_view name) {
  size_t dash = name.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == name.size()) return std::nullopt;
  // parse_u64 trims spaces; a name with any is not one of ours.
  if (name.find_first_not_of("0123456789-") != std::string_view::npos) return std::nullopt;
  auto pid = parse_u64(name.substr(0, dash));
  auto start = parse_u64(name.substr(dash + 1));
  if (!pid || !start || *pid == 0 || *pid > static_cast<unsigned long long>(kMaxPid)) {
    return std::nullopt;
  }
  if (name_of(static_cast<pid_t>(*pid), *start) != name) return std::nullopt;  // "01-5"
  return std::make_pair(static_cast<pid_t>(*pid), static_cast<std::uint64_t>(*start));
}

std::string ContainerView::name_of(pid_t pid, std::uint64_t start) {
  return std::to_string(pid) + "-" + std::to_string(start);
}

bool ContainerView::alive(const Container& c) const {
  return same_process(c.pid, c.start, /*mnt_ns=*/0, proc_);
}

std::pair<ContainerView::Ptr, const Node*> ContainerView::find(unsigned long ino) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_slot_.find(ino / kStride);
  if (it == by_slot_.end()) return {nullptr, nullptr};
  return {it->second, shape_.find(ino % kStride)};
}

ContainerView::Ptr ContainerView::find_or_add(pid_t pid, std::uint64_t start) {
  std::lock_guard<std::mutex> lock(mu_);
  Ptr& c = by_id_[{pid, start}];
  if (!c) {
    c = std::make_shared<Container>();
    c->pid = pid;
    c->start = start;
    c->slot = next_slot_++;
    by_slot_[c->slot] = c;
  }
  return c;
}

void ContainerView::forget(const Container& c) {
  std::lock_guard<std::mutex> lock(mu_);
  by_id_.erase({c.pid, c.start});
  by_slot_.erase(c.slot);
}

size_t ContainerView::containers() const {
  std::lock_guard<std::mutex> lock(mu_);
  return by_slot_.size();
}

ContainerView::Rendering ContainerView::rendering(Container& c, FileKind kind, bool refresh) {
  std::lock_guard<std::mutex> lock(c.mu);
  Rendering& r = c.files[kind];
  const Clock::time_point now = Clock::now();
  if (r.text && (!refresh || now - r.at < max_age_)) return r;
  if (!alive(c)) {
    c.files.clear();
    forget(c);
    throw SysError(ENOENT, "container " + name_of(c.pid, c.start) + " is gone");
  }
  r.text = std::make_shared<const std::string>(views_->render(kind, c.pid));
  r.at = now;
  ::clock_gettime(CLOCK_REALTIME, &r.mtime);
  return r;
}

Attr ContainerView::attr_of(const Container& c, const Node& n, const Rendering* r) const {
  struct stat st {};
  st.st_ino = c.slot * kStride + n.ino;
  st.st_mode = n.dir ? (S_IFDIR | 0555) : (S_IFREG | 0444);
  st.st_nlink = n.dir ? 2 : 1;
  st.st_blksize = 4096;
  st.st_atim = st.st_mtim = st.st_ctim = started_;
  if (r) {
    st.st_size = static_cast<off_t>(r->text->size());
    st.st_mtim = st.st_ctim = r->mtime;
  }
  return {st, n.dir ? kDirEntrySeconds : seconds(max_age_)};
}

void ContainerView::maybe_sweep() {
  const Clock::time_point now = Clock::now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (now - last_sweep_ < kSweepEvery) return;
    last_sweep_ = now;
  }
  sweep(now);
}

void ContainerView::sweep(Clock::time_point now) {
  std::vector<Ptr> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [slot, c] : by_slot_) all.push_back(c);
  }
  for (const Ptr& c : all) {
    if (!alive(*c)) {
      forget(*c);
      continue;
    }
    std::lock_guard<std::mutex> lock(c->mu);
    for (auto it = c->files.begin(); it != c->files.end();) {
      it = now - it->second.at > kDropAfter ? c->files.erase(it) : std::next(it);
    }
  }
}

Result<Entry> ContainerView::lookup(unsigned long parent, std::string_view name) {
  if (parent == 1) {
    maybe_sweep();
    auto id = parse_name(name);
    if (!id) return Errno{ENOENT};
    auto start = process_start_time(id->first, proc_);
    if (!start || *start != id->second) return Errno{ENOENT};
    Ptr c = find_or_add(id->first, id->second);
    return Entry{c->slot * kStride + 1, attr_of(*c, *shape_.find(1), nullptr), kDirEntrySeconds};
  }
  auto [c, dir] = find(parent);
  if (!c || !dir) return Errno{ENOENT};
  if (!dir->dir) return Errno{ENOTDIR};
  const Node* n = shape_.child(dir->ino, name);
  if (!n) return Errno{ENOENT};
  const unsigned long ino = c->slot * kStride + n->ino;
  if (n->dir) return Entry{ino, attr_of(*c, *n, nullptr), kFileEntrySeconds};
  Rendering r = rendering(*c, n->kind, /*refresh=*/true);
  return Entry{ino, attr_of(*c, *n, &r), kFileEntrySeconds};
}

Result<Attr> ContainerView::getattr(unsigned long ino) {
  if (ino == 1) {
    struct stat st {};
    st.st_ino = 1;
    st.st_mode = S_IFDIR | 0500;  // only root walks it; containers get binds of files
    st.st_nlink = 2;
    st.st_atim = st.st_mtim = st.st_ctim = started_;
    return Attr{st, kDirEntrySeconds};
  }
  auto [c, n] = find(ino);
  if (!c || !n) return Errno{ENOENT};
  if (n->dir) return attr_of(*c, *n, nullptr);
  Rendering r = rendering(*c, n->kind, /*refresh=*/true);
  return attr_of(*c, *n, &r);
}

Result<std::vector<DirEntry>> ContainerView::readdir(unsigned long ino, off_t off) {
  std::vector<DirEntry> all;
  if (ino == 1) {
    sweep(Clock::now());  // lists the live containers only
    all = {{".", 1, true, 0}, {"..", 1, true, 0}};
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [slot, c] : by_slot_) {
      all.push_back({name_of(c->pid, c->start), slot * kStride + 1, true, 0});
    }
  } else {
    auto [c, dir] = find(ino);
    if (!c || !dir) return Errno{ENOENT};
    if (!dir->dir) return Errno{ENOTDIR};
    const unsigned long base = c->slot * kStride;
    all = {{".", ino, true, 0}, {"..", dir->ino == 1 ? 1 : base + dir->parent, true, 0}};
    for (const Node* n : shape_.children(dir->ino))
      all.push_back({n->name, base + n->ino, n->dir, 0});
  }
  std::vector<DirEntry> out;
  for (size_t i = static_cast<size_t>(off); i < all.size(); ++i) {
    all[i].next = static_cast<off_t>(i + 1);
    out.push_back(std::move(all[i]));
  }
  return out;
}

int ContainerView::check(unsigned long ino, bool want_dir) {
  if (ino == 1) return want_dir ? 0 : EISDIR;
  auto [c, n] = find(ino);
  if (!c || !n) return ENOENT;
  if (n->dir != want_dir) return want_dir ? ENOTDIR : EISDIR;
  return 0;
}

Result<Slice> ContainerView::read(unsigned long ino, size_t size, off_t off) {
  auto [c, n] = find(ino);
  if (!c || !n) return Errno{ENOENT};
  if (n->dir) return Errno{EISDIR};
  // The rendering the last GETATTR reported: the kernel asks for the pages
  // of the size it was told, so they come from that one rendering.
  Rendering r = rendering(*c, n->kind, /*refresh=*/false);
  Slice s;
  s.data = r.text;
  if (off < 0 || static_cast<size_t>(off) >= r.text->size()) return s;
  s.offset = static_cast<size_t>(off);
  s.length = std::min(size, r.text->size() - s.offset);
  return s;
}

}  // namespace vproc::fuse
