#include "fsd/fuse/tree.h"

namespace vproc::fuse {

using view::FileKind;

Tree::Tree(bool with_pressure) {
  const FileKind none = FileKind::kMeminfo;
  nodes_ = {
      {1, 1, "", true, none},
      {2, 1, "proc", true, none},
      {3, 2, "meminfo", false, FileKind::kMeminfo},
      {4, 2, "cpuinfo", false, FileKind::kCpuinfo},
      {5, 2, "stat", false, FileKind::kStat},
      {6, 2, "uptime", false, FileKind::kUptime},
      {7, 2, "loadavg", false, FileKind::kLoadavg},
      {8, 2, "swaps", false, FileKind::kSwaps},
      {9, 2, "diskstats", false, FileKind::kDiskstats},
      {10, 1, "sys", true, none},
      {11, 10, "devices", true, none},
      {12, 11, "system", true, none},
      {13, 12, "cpu", true, none},
      {14, 13, "online", false, FileKind::kOnline},
  };
  if (with_pressure) {
    nodes_.push_back({15, 2, "pressure", true, none});
    nodes_.push_back({16, 15, "cpu", false, FileKind::kPressureCpu});
    nodes_.push_back({17, 15, "memory", false, FileKind::kPressureMemory});
    nodes_.push_back({18, 15, "io", false, FileKind::kPressureIo});
  }
}

const Node* Tree::find(unsigned long ino) const {
  if (ino == 0 || ino > nodes_.size()) return nullptr;
  return &nodes_[ino - 1];
}

const Node* Tree::child(unsigned long parent, std::string_view name) const {
  for (const auto& n : nodes_) {
    if (n.parent == parent && n.ino != 1 && name == n.name) return &n;
  }
  return nullptr;
}

std::vector<const Node*> Tree::children(unsigned long parent) const {
  std::vector<const Node*> out;
  for (const auto& n : nodes_) {
    if (n.parent == parent && n.ino != 1) out.push_back(&n);
  }
  return out;
}

}  // namespace vproc::fuse
