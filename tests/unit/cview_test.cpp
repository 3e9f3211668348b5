// The per-container view (fsd/fuse/cview.h) on a copy of the v2 fixture tree:
// names, inodes, freshness within max_age, a gone container.
#include "fsd/fuse/cview.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "lib/base/io.h"

using namespace vproc;
using namespace vproc::fuse;
namespace fs = std::filesystem;

namespace {

const std::string kFixtures = VPROC_FIXTURES;
constexpr auto kAge = std::chrono::milliseconds(30);

// A copy of the v2 tree whose pid 101 started at tick 777.
struct ViewTree {
  fs::path root;
  std::unique_ptr<view::ViewService> views;
  UniqueFd proc;
  std::unique_ptr<ContainerView> cv;

  ViewTree() {
    root = fs::temp_directory_path() / ("vproc-cview-" + std::to_string(::getpid()));
    fs::remove_all(root);
    fs::copy(kFixtures + "/v2", root, fs::copy_options::recursive);
    write_stat(777);
    view::Options o;
    o.loadavg_interval = std::chrono::hours(1);
    views = std::make_unique<view::ViewService>(
        open_at(AT_FDCWD, (root / "cgroup").string(), O_RDONLY | O_DIRECTORY),
        open_at(AT_FDCWD, (root / "proc").string(), O_RDONLY | O_DIRECTORY), o);
    proc = open_at(AT_FDCWD, (root / "proc").string(), O_RDONLY | O_DIRECTORY);
    cv = std::make_unique<ContainerView>(views.get(), true, proc.get(), kAge);
  }
  ~ViewTree() { fs::remove_all(root); }

  void write_stat(unsigned long long start) {
    std::ofstream(root / "proc/101/stat", std::ios::trunc)
        << "101 (sh) S 0 101 101 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 " << start
        << " 1 1 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
  }
  void set_usage(unsigned long long bytes) {
    std::ofstream(root / "cgroup/limited/memory.current", std::ios::trunc) << bytes << "\n";
  }
  unsigned long walk(const std::string& path) {
    unsigned long ino = 1;
    size_t pos = 0;
    while (pos <= path.size()) {
      size_t slash = path.find('/', pos);
      if (slash == std::string::npos) slash = path.size();
      Result<Entry> e = cv->lookup(ino, path.substr(pos, slash - pos));
      REQUIRE_MESSAGE(e.err() == 0, path);
      ino = e->ino;
      pos = slash + 1;
    }
    return ino;
  }
  std::string read_all(unsigned long ino) {
    Result<Slice> s = cv->read(ino, 1 << 20, 0);
    REQUIRE(s.err() == 0);
    return std::string(s->view());
  }
};

}  // namespace

TEST_CASE("container view: directory names are <pid>-<start>, nothing else") {
  CHECK(ContainerView::parse_name("101-777") == std::make_pair(pid_t{101}, std::uint64_t{777}));
  CHECK(ContainerView::name_of(101, 777) == "101-777");
  for (const char* bad : {"", "-", "101", "101-", "-777", "0-777", "01-777", "101-0777", "a-1",
                          "101-7-7", " 101-777", "101-777 ", "99999999-1"}) {
    INFO(bad);
    CHECK_FALSE(ContainerView::parse_name(bad));
  }
}

TEST_CASE("container view: a container's tree, rendered for its init, fresh within max_age") {
  ViewTree t;
  CHECK(t.cv->lookup(1, "101-778").err() == ENOENT);  // another start time: a reused pid
  CHECK(t.cv->lookup(1, "102-777").err() == ENOENT);  // no stat: no such process
  CHECK(t.cv->lookup(1, "meminfo").err() == ENOENT);
  const unsigned long mem = t.walk("101-777/proc/meminfo");
  CHECK(mem / ContainerView::kStride == 1);
  CHECK(t.cv->containers() == 1);
  CHECK(t.walk("101-777/proc/meminfo") == mem);  // the same container, the same inode

  Result<Attr> a = t.cv->getattr(mem);
  REQUIRE(a.err() == 0);
  const std::string first = t.read_all(mem);
  CHECK(first.rfind("MemTotal:         262144 kB\n", 0) == 0);
  CHECK(first.find("MemFree:          159744 kB") != std::string::npos);
  CHECK(static_cast<size_t>(a->st.st_size) == first.size());
  CHECK(a->timeout == doctest::Approx(0.03));
  CHECK((a->st.st_mode & 0777) == 0444);

  // Within max_age the kept rendering answers, whatever changed since.
  t.set_usage(157286400);
  Result<Attr> again = t.cv->getattr(mem);
  CHECK(again->st.st_mtim.tv_nsec == a->st.st_mtim.tv_nsec);
  CHECK(t.read_all(mem) == first);
  // After it, GETATTR renders anew with a new mtime, and reads follow.
  std::this_thread::sleep_for(kAge + std::chrono::milliseconds(5));
  Result<Attr> later = t.cv->getattr(mem);
  REQUIRE(later.err() == 0);
  CHECK((later->st.st_mtim.tv_sec != a->st.st_mtim.tv_sec ||
         later->st.st_mtim.tv_nsec != a->st.st_mtim.tv_nsec));
  const std::string second = t.read_all(mem);
  CHECK(second.find("MemFree:          108544 kB") != std::string::npos);
  CHECK(static_cast<size_t>(later->st.st_size) == second.size());
  // A read at an offset continues the same rendering.
  CHECK(t.cv->read(mem, 10, 5)->view() == second.substr(5, 10));
  CHECK(t.cv->read(mem, 10, 1 << 20)->length == 0);

  CHECK(t.cv->check(mem, /*want_dir=*/false) == 0);
  CHECK(t.cv->check(mem, /*want_dir=*/true) == ENOTDIR);
  CHECK(t.cv->check(t.walk("101-777/proc"), /*want_dir=*/true) == 0);
  CHECK(t.cv->check(999 * ContainerView::kStride + 1, true) == ENOENT);
  CHECK(t.cv->read(mem + 1000 * ContainerView::kStride, 10, 0).err() == ENOENT);
}

TEST_CASE("container view: listings, and a container whose init is gone is forgotten") {
  ViewTree t;
  const unsigned long online = t.walk("101-777/sys/devices/system/cpu/online");
  Result<std::vector<DirEntry>> root = t.cv->readdir(1, 0);
  REQUIRE(root.err() == 0);
  REQUIRE(root->size() == 3);
  CHECK((*root)[2].name == "101-777");
  Result<std::vector<DirEntry>> cpu = t.cv->readdir(t.walk("101-777/sys/devices/system/cpu"), 0);
  REQUIRE(cpu.err() == 0);
  std::vector<std::string> names;
  for (const DirEntry& d : *cpu) names.push_back(d.name);
  CHECK(names == std::vector<std::string>{".", "..", "online", "possible", "present"});

  // The process exits (its start time no longer matches): the next refresh
  // says ENOENT and the container is forgotten, inodes and renderings.
  t.write_stat(999);
  std::this_thread::sleep_for(kAge + std::chrono::milliseconds(5));
  CHECK(guarded("test", [&] { return t.cv->getattr(online); }).err() == ENOENT);
  CHECK(t.cv->containers() == 0);
  CHECK(t.cv->getattr(online).err() == ENOENT);
  CHECK(t.cv->lookup(1, "101-777").err() == ENOENT);
  // A new container under the reused pid gets new inodes.
  const unsigned long fresh = t.walk("101-999/sys/devices/system/cpu/online");
  CHECK(fresh / ContainerView::kStride == 2);
}

TEST_CASE("container view: the sweep forgets gone containers and drops old renderings") {
  ViewTree t;
  const unsigned long mem = t.walk("101-777/proc/meminfo");
  t.cv->sweep(ContainerView::Clock::now());
  CHECK(t.cv->containers() == 1);
  t.write_stat(5);
  t.cv->sweep(ContainerView::Clock::now());
  CHECK(t.cv->containers() == 0);
  CHECK(t.cv->getattr(mem).err() == ENOENT);
}
