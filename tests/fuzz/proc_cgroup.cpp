// /proc/<pid>/cgroup: parse_proc_cgroup, then cgroup::resolve against v1, v2
// and hybrid layouts and cgroup::ancestors on every path (the walk the
// tightest-limit lookup does).
#include <algorithm>

#include "lib/base/sys_error.h"
#include "lib/cgroup/cgroup_reader.h"
#include "lib/core/parse.h"
#include "tests/fuzz/fuzz_util.h"

using namespace vproc;

namespace {

void check_path(const std::string& path) {
  FUZZ_CHECK(!path.empty() && path[0] == '/');
  auto up = cgroup::ancestors(path);
  FUZZ_CHECK(!up.empty() && up.back() == "/");
  FUZZ_CHECK(up.size() <= static_cast<size_t>(std::count(path.begin(), path.end(), '/')) + 1);
  for (size_t i = 1; i < up.size(); ++i) {
    // Each step is a strict prefix of the one before it.
    FUZZ_CHECK(up[i].size() < up[i - 1].size());
    FUZZ_CHECK(up[i - 1].compare(0, up[i].size(), up[i]) == 0);
  }
}

void check_place(const std::optional<cgroup::Place>& p) {
  if (p) check_path(p->path);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  core::ProcCgroup pc;
  try {
    pc = core::parse_proc_cgroup(fuzz::text(data, size), "cgroup");
  } catch (const SysError&) {
    return 0;
  }
  for (const auto& [ctrl, path] : pc.v1) {
    FUZZ_CHECK(!ctrl.empty() && ctrl.find(',') == std::string::npos);
    check_path(path);
  }
  if (pc.unified) check_path(*pc.unified);

  cgroup::Layout v1;
  v1.v1_dir = {{"memory", "memory"},
               {"cpu", "cpu,cpuacct"},
               {"cpuacct", "cpu,cpuacct"},
               {"cpuset", "cpuset"},
               {"blkio", "blkio"}};
  cgroup::Layout v2;
  v2.unified_dir = "";
  cgroup::Layout hybrid = v1;
  hybrid.unified_dir = "unified";
  for (const auto* layout : {&v1, &v2, &hybrid}) {
    auto rc = cgroup::resolve(*layout, pc);
    for (const auto* p : {&rc.memory, &rc.cpu, &rc.cpuacct, &rc.cpuset, &rc.io, &rc.unified}) {
      check_place(*p);
    }
    if (layout->pure_v2()) FUZZ_CHECK(rc.memory.has_value() == pc.unified.has_value());
  }
  return 0;
}
