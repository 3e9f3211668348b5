// The FUSE ops (fsd/fuse/ops.h) without a kernel: each do_* on a ViewService
// built on the fixture trees, the way vprocd builds it on --cgroup-root and
// --proc-root. Readers are fixture pids (tests/fixtures/README.md): 101 is in
// /limited, 103 in /unlimited, 104 in /malformed.
#include "fsd/fuse/ops.h"

#include <doctest/doctest.h>
#include <fcntl.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <new>
#include <sstream>
#include <stdexcept>

#include "lib/base/io.h"
#include "lib/base/sys_error.h"

using namespace vproc;
using namespace vproc::fuse;

namespace {

const std::string kFixtures = VPROC_FIXTURES;
constexpr unsigned long kRoot = 1;
constexpr double kDirTimeout = 30.0;

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::unique_ptr<view::ViewService> service(const std::string& mode) {
  view::Options o;
  o.loadavg_interval = std::chrono::hours(1);
  std::string root = kFixtures + "/" + mode;
  return std::make_unique<view::ViewService>(
      open_at(AT_FDCWD, root + "/cgroup", O_RDONLY | O_DIRECTORY),
      open_at(AT_FDCWD, root + "/proc", O_RDONLY | O_DIRECTORY), o);
}

// A context as vprocd's main() builds it, on a fixture tree.
struct Fs {
  explicit Fs(const std::string& mode = "v2", size_t max = FsContext::kDefaultMaxHandles)
      : views(service(mode)), c{views.get(), Tree(true), kDirTimeout, {1764201600, 5}, max, {}} {}
  std::unique_ptr<view::ViewService> views;
  FsContext c;
};

// The inode of a path below the mountpoint ("proc/meminfo"), through lookups.
unsigned long ino_of(const FsContext& c, const std::string& path) {
  unsigned long ino = kRoot;
  std::istringstream in(path);
  for (std::string part; std::getline(in, part, '/');) {
    Result<Entry> e = do_lookup(c, ino, part);
    REQUIRE_MESSAGE(e.err() == 0, path);
    ino = e->ino;
  }
  return ino;
}

std::string read_all(FsContext& c, uint64_t fh, pid_t pid = 101) {
  Result<Slice> s = do_read(c, fh, 1 << 20, 0, pid);
  REQUIRE(s.err() == 0);
  return std::string(s->view());
}

std::vector<std::string> names(const std::vector<DirEntry>& list) {
  std::vector<std::string> out;
  for (const DirEntry& d : list) out.push_back(d.name);
  return out;
}

}  // namespace

TEST_CASE("lookup: directories and files, their attributes and cache times") {
  Fs fs;
  Result<Entry> proc = do_lookup(fs.c, kRoot, "proc");
  REQUIRE(proc.err() == 0);
  CHECK(proc->attr.st.st_ino == proc->ino);
  CHECK(proc->attr.st.st_mode == (S_IFDIR | 0555));
  CHECK(proc->attr.st.st_nlink == 2);
  CHECK(proc->attr.st.st_size == 0);
  CHECK(proc->attr.timeout == kDirTimeout);
  CHECK(proc->entry_timeout == kDirTimeout);

  Result<Entry> mem = do_lookup(fs.c, proc->ino, "meminfo");
  REQUIRE(mem.err() == 0);
  CHECK(mem->ino != proc->ino);
  CHECK(mem->attr.st.st_mode == (S_IFREG | 0444));
  CHECK(mem->attr.st.st_nlink == 1);
  // The host's size plus a page: never below what a reader's rendering holds.
  CHECK(mem->attr.st.st_size ==
        static_cast<off_t>(slurp(kFixtures + "/v2/proc/meminfo").size() + 4096));
  CHECK(mem->attr.st.st_blksize == 4096);
  CHECK(mem->attr.st.st_mtim.tv_sec == 1764201600);
  CHECK(mem->attr.st.st_ctim.tv_nsec == 5);
  CHECK(mem->attr.timeout == 1.0);
  CHECK(mem->entry_timeout == 1.0);
  // online has no host file in /proc: one page.
  CHECK(do_lookup(fs.c, ino_of(fs.c, "sys/devices/system/cpu"), "online")->attr.st.st_size == 4096);
}

TEST_CASE("lookup: unknown names, names under a file and unknown parents are ENOENT") {
  Fs fs;
  const unsigned long mem = ino_of(fs.c, "proc/meminfo");
  CHECK(do_lookup(fs.c, kRoot, "nope").err() == ENOENT);
  CHECK(do_lookup(fs.c, kRoot, "meminfo").err() == ENOENT);  // it lives in proc/
  CHECK(do_lookup(fs.c, kRoot, "").err() == ENOENT);
  CHECK(do_lookup(fs.c, mem, "x").err() == ENOENT);
  CHECK(do_lookup(fs.c, 9999, "proc").err() == ENOENT);
}

TEST_CASE("lookup counts as activity, found or not; getattr does not") {
  Fs fs;
  const uint64_t before = fs.c.activity.load();
  (void)do_lookup(fs.c, kRoot, "proc");
  (void)do_lookup(fs.c, kRoot, "nope");
  CHECK(fs.c.activity.load() == before + 2);
  (void)do_getattr(fs.c, kRoot);
  CHECK(fs.c.activity.load() == before + 2);
}

TEST_CASE("getattr: the same attributes as lookup; unknown inodes are ENOENT") {
  Fs fs;
  Result<Attr> root = do_getattr(fs.c, kRoot);
  REQUIRE(root.err() == 0);
  CHECK(root->st.st_mode == (S_IFDIR | 0711));  // traversable, not listable by others
  CHECK(root->st.st_ino == kRoot);
  CHECK(root->timeout == kDirTimeout);

  Result<Entry> stat = do_lookup(fs.c, ino_of(fs.c, "proc"), "stat");
  Result<Attr> a = do_getattr(fs.c, stat->ino);
  REQUIRE(a.err() == 0);
  CHECK(a->st.st_ino == stat->ino);
  CHECK(a->st.st_mode == stat->attr.st.st_mode);
  CHECK(a->st.st_size == stat->attr.st.st_size);
  CHECK(a->timeout == 1.0);

  CHECK(do_getattr(fs.c, 0).err() == ENOENT);
  CHECK(do_getattr(fs.c, 9999).err() == ENOENT);
}

TEST_CASE("readdir: dot entries, then the children in order, resumable at any offset") {
  Fs fs;
  Result<std::vector<DirEntry>> root = do_readdir(fs.c, kRoot, 0);
  REQUIRE(root.err() == 0);
  CHECK(names(*root) == std::vector<std::string>{".", "..", "proc", "sys"});
  for (size_t i = 0; i < root->size(); ++i) CHECK((*root)[i].next == static_cast<off_t>(i + 1));
  CHECK((*root)[0].ino == kRoot);
  CHECK((*root)[1].ino == kRoot);  // the root is its own parent
  CHECK((*root)[2].ino == ino_of(fs.c, "proc"));
  CHECK((*root)[2].dir);

  // The kernel continues from the `next` of the last entry it took.
  Result<std::vector<DirEntry>> rest = do_readdir(fs.c, kRoot, 2);
  REQUIRE(rest.err() == 0);
  CHECK(names(*rest) == std::vector<std::string>{"proc", "sys"});
  CHECK(rest->front().next == 3);
  CHECK(do_readdir(fs.c, kRoot, 4)->empty());
  CHECK(do_readdir(fs.c, kRoot, 100)->empty());

  const unsigned long proc = ino_of(fs.c, "proc");
  Result<std::vector<DirEntry>> p = do_readdir(fs.c, proc, 0);
  REQUIRE(p.err() == 0);
  CHECK(names(*p) == std::vector<std::string>{".", "..", "meminfo", "cpuinfo", "stat", "uptime",
                                              "loadavg", "swaps", "diskstats", "pressure"});
  CHECK((*p)[0].ino == proc);
  CHECK((*p)[1].ino == kRoot);
  CHECK_FALSE((*p)[2].dir);
  CHECK((*p)[2].ino == ino_of(fs.c, "proc/meminfo"));
  CHECK(p->back().dir);
}

TEST_CASE("readdir and opendir refuse files and unknown inodes") {
  Fs fs;
  const unsigned long mem = ino_of(fs.c, "proc/meminfo");
  CHECK(do_readdir(fs.c, mem, 0).err() == ENOTDIR);
  CHECK(do_readdir(fs.c, 9999, 0).err() == ENOTDIR);
  CHECK(do_opendir(fs.c, kRoot) == 0);
  CHECK(do_opendir(fs.c, ino_of(fs.c, "proc/pressure")) == 0);
  CHECK(do_opendir(fs.c, mem) == ENOTDIR);
  CHECK(do_opendir(fs.c, 9999) == ENOENT);
}

TEST_CASE("open renders for the reader; read returns slices at any offset") {
  Fs fs;
  const std::string golden = slurp(kFixtures + "/golden/limited.meminfo");
  REQUIRE(golden.size() > 200);
  const unsigned long mem = ino_of(fs.c, "proc/meminfo");
  const uint64_t activity = fs.c.activity.load();
  Result<uint64_t> limited = do_open(fs.c, mem, O_RDONLY, 101);
  REQUIRE(limited.err() == 0);
  CHECK(*limited != 0);
  CHECK(fs.c.activity.load() == activity + 1);
  CHECK(fs.c.handles.size() == 1);
  CHECK(read_all(fs.c, *limited) == golden);

  Result<Slice> head = do_read(fs.c, *limited, 10, 0, 101);
  CHECK(head->view() == golden.substr(0, 10));
  Result<Slice> mid = do_read(fs.c, *limited, 50, 100, 101);
  CHECK(mid->view() == golden.substr(100, 50));
  const off_t last = static_cast<off_t>(golden.size() - 3);
  Result<Slice> tail = do_read(fs.c, *limited, 4096, last, 101);  // a short read at the end
  CHECK(tail->view() == golden.substr(golden.size() - 3));
  CHECK(do_read(fs.c, *limited, 0, 5, 101)->length == 0);
  CHECK(do_read(fs.c, *limited, 10, static_cast<off_t>(golden.size()), 101)->length == 0);
  CHECK(do_read(fs.c, *limited, 10, -1, 101)->length == 0);
  CHECK(do_read(fs.c, *limited, 10, -1, 101)->bytes() == nullptr);

  // Another reader, another handle, its own content; the first is unchanged.
  Result<uint64_t> host = do_open(fs.c, mem, O_RDONLY, 103);
  REQUIRE(host.err() == 0);
  CHECK(*host != *limited);
  CHECK(read_all(fs.c, *host, 103) == slurp(kFixtures + "/v2/proc/meminfo"));
  CHECK(read_all(fs.c, *limited) == golden);
  // Flags that do not write are fine.
  CHECK(do_open(fs.c, mem, O_RDONLY | O_NONBLOCK | O_CLOEXEC, 101).err() == 0);
  CHECK(fs.c.handles.size() == 3);
}

TEST_CASE("release frees the handle; a read of a released or unknown handle is empty") {
  Fs fs;
  const unsigned long online = ino_of(fs.c, "sys/devices/system/cpu/online");
  Result<uint64_t> h = do_open(fs.c, online, O_RDONLY, 101);
  REQUIRE(h.err() == 0);
  CHECK(read_all(fs.c, *h) == "1-2\n");
  Result<Slice> held = do_read(fs.c, *h, 100, 0, 101);  // a READ still replying
  CHECK(do_release(fs.c, *h) == 0);
  CHECK(fs.c.handles.size() == 0);
  CHECK(held->view() == "1-2\n");
  CHECK(do_read(fs.c, *h, 100, 0, 101)->length == 0);
  CHECK(do_read(fs.c, 12345, 100, 0, 101)->length == 0);
  CHECK(do_release(fs.c, *h) == 0);  // twice: nothing left to free
  CHECK(do_release(fs.c, 12345) == 0);
}

TEST_CASE("open refuses unknown inodes, directories and anything that could write") {
  Fs fs;
  const unsigned long mem = ino_of(fs.c, "proc/meminfo");
  const unsigned long proc = ino_of(fs.c, "proc");
  const uint64_t activity = fs.c.activity.load();
  CHECK(do_open(fs.c, 9999, O_RDONLY, 101).err() == ENOENT);
  CHECK(do_open(fs.c, 0, O_RDONLY, 101).err() == ENOENT);
  CHECK(do_open(fs.c, kRoot, O_RDONLY, 101).err() == EISDIR);
  CHECK(do_open(fs.c, proc, O_RDONLY, 101).err() == EISDIR);
  CHECK(do_open(fs.c, mem, O_WRONLY, 101).err() == EACCES);
  CHECK(do_open(fs.c, mem, O_RDWR, 101).err() == EACCES);
  CHECK(do_open(fs.c, mem, O_RDONLY | O_TRUNC, 101).err() == EACCES);
  CHECK(fs.c.handles.size() == 0);
  CHECK(fs.c.activity.load() == activity);  // a refused open is not activity
}

TEST_CASE("open: past max_handles ENFILE, until a handle is released") {
  Fs fs("v1", 2);
  const unsigned long uptime = ino_of(fs.c, "proc/uptime");
  Result<uint64_t> a = do_open(fs.c, uptime, O_RDONLY, 101);
  Result<uint64_t> b = do_open(fs.c, uptime, O_RDONLY, 101);
  REQUIRE(a.err() == 0);
  REQUIRE(b.err() == 0);
  CHECK(do_open(fs.c, uptime, O_RDONLY, 101).err() == ENFILE);
  CHECK(fs.c.handles.size() == 2);
  CHECK(read_all(fs.c, *a) == "1000.00 3900.00\n");  // the open ones still read
  do_release(fs.c, *a);
  Result<uint64_t> c = do_open(fs.c, uptime, O_RDONLY, 101);
  REQUIRE(c.err() == 0);
  CHECK(*c != *a);  // a released id is not given out again
  CHECK(read_all(fs.c, *c) == "1000.00 3900.00\n");
}

TEST_CASE("open: a rendering error throws from do_open and is an errno through guarded") {
  Fs fs;
  const unsigned long mem = ino_of(fs.c, "proc/meminfo");
  // /malformed's memory.max is not a number.
  CHECK_THROWS_AS(do_open(fs.c, mem, O_RDONLY, 104), SysError);
  CHECK(guarded("open", [&] { return do_open(fs.c, mem, O_RDONLY, 104); }).err() == EIO);
  // A reader that is gone.
  int gone = guarded("open", [&] { return do_open(fs.c, mem, O_RDONLY, 999999); }).err();
  CHECK((gone == ESRCH || gone == ENOENT));
  CHECK(fs.c.handles.size() == 0);
  Result<uint64_t> ok = guarded("open", [&] { return do_open(fs.c, mem, O_RDONLY, 101); });
  CHECK(ok.err() == 0);
  CHECK(fs.c.handles.get(*ok) != nullptr);
}

TEST_CASE("guarded: the errno each kind of exception becomes; values pass through") {
  CHECK(*guarded("t", [] { return Result<int>(7); }) == 7);
  CHECK(guarded("t", [] { return Result<int>(Errno{EPERM}); }).err() == EPERM);
  CHECK(guarded("t", [] { return 0; }) == 0);
  CHECK(guarded("t", [] { return EBADF; }) == EBADF);
  auto throwing = [](auto e) { return guarded("t", [&]() -> Result<std::string> { throw e; }); };
  CHECK(throwing(SysError("openat", "/proc/1/cgroup", ENOENT)).err() == ENOENT);
  CHECK(throwing(SysError("open", "/proc/1/cgroup", ESRCH)).err() == ESRCH);
  CHECK(throwing(SysError("openat", "memory.max", EACCES)).err() == EIO);
  CHECK(throwing(InputError("memory.max: not a number")).err() == EIO);
  CHECK(throwing(std::bad_alloc()).err() == ENOMEM);
  CHECK(throwing(std::runtime_error("x")).err() == EIO);
  CHECK(throwing(42).err() == EIO);
  // Errno-only ops get the errno itself.
  CHECK(guarded("t", []() -> int { throw SysError("x", "", ESRCH); }) == ESRCH);
}

TEST_CASE("statfs: a read-only file system of 4 KiB blocks") {
  struct statvfs sv = do_statfs();
  CHECK(sv.f_bsize == 4096);
  CHECK(sv.f_frsize == 4096);
  CHECK(sv.f_namemax == 255);
  CHECK((sv.f_flag & ST_RDONLY) != 0);
  CHECK(sv.f_blocks == 0);
  CHECK(sv.f_files == 0);
}

TEST_CASE("a kept handle read again from offset 0 renders again; other offsets continue") {
  // procps (top, vmstat, free -s) keeps /proc/meminfo open and re-reads it
  // from 0 for every refresh. Work on a copy of the v2 tree to change usage.
  namespace fs = std::filesystem;
  fs::path root = fs::temp_directory_path() / ("vproc-ops-reread-" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::copy(kFixtures + "/v2", root, fs::copy_options::recursive);
  view::Options o;
  o.loadavg_interval = std::chrono::hours(1);
  view::ViewService views(open_at(AT_FDCWD, (root / "cgroup").string(), O_RDONLY | O_DIRECTORY),
                          open_at(AT_FDCWD, (root / "proc").string(), O_RDONLY | O_DIRECTORY), o);
  FsContext c{&views, Tree(true), kDirTimeout, {1764201600, 5}, FsContext::kDefaultMaxHandles, {}};
  Result<uint64_t> h = do_open(c, ino_of(c, "proc/meminfo"), O_RDONLY, 101);
  REQUIRE(h.err() == 0);
  const std::string before = read_all(c, *h);
  CHECK(before.find("MemFree:          159744 kB") != std::string::npos);

  {  // usage grows by 50 MiB: 100 MiB -> 150 MiB of a 256 MiB limit
    std::ofstream out(root / "cgroup/limited/memory.current", std::ios::trunc);
    out << 157286400 << "\n";
  }
  // A read that continues (offset > 0) still sees the rendering it started on.
  CHECK(do_read(c, *h, 20, 20, 101)->view() == before.substr(20, 20));
  const std::string after = read_all(c, *h);
  CHECK(after.find("MemFree:          108544 kB") != std::string::npos);
  CHECK(do_read(c, *h, 20, 20, 101)->view() == after.substr(20, 20));
  // A fresh open agrees with the re-read.
  Result<uint64_t> fresh = do_open(c, ino_of(c, "proc/meminfo"), O_RDONLY, 101);
  REQUIRE(fresh.err() == 0);
  CHECK(read_all(c, *fresh) == after);
  CHECK(c.handles.size() == 2);
  fs::remove_all(root);
}
