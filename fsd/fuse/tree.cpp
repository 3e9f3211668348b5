#include "fsd/fuse/tree.h"

namespace vproc::fuse {

Tree::Tree(bool with_pressure) {
  const FileKind none = FileKind::kMeminfo;  // directories have no kind
  nodes_.push_back({1, 1, "", true, none});
  for (const ServedFile& f : served_files()) {
    if (f.needs_psi && !with_pressure) continue;
    std::string_view path = f.source;
    unsigned long parent = 1;
    for (size_t slash; (slash = path.find('/')) != std::string_view::npos;) {
      std::string_view dir = path.substr(0, slash);
      const Node* existing = child(parent, dir);
      parent = existing ? existing->ino : add(parent, dir, true, none);
      path.remove_prefix(slash + 1);
    }
    add(parent, path, false, f.kind);
  }
}

unsigned long Tree::add(unsigned long parent, std::string_view name, bool dir, FileKind kind) {
  unsigned long ino = nodes_.size() + 1;
  nodes_.push_back({ino, parent, std::string(name), dir, kind});
  return ino;
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
