// The served tree: a fixed table of directories and files. Inode numbers are
// indexes into it (1 is FUSE's root). Nothing outside it exists.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string_view>
#include <vector>

#include "fsd/view/view.h"

namespace vproc::fuse {

struct Node {
  unsigned long ino;
  unsigned long parent;
  const char* name;
  bool dir;
  view::FileKind kind;  // files only
};

class Tree {
 public:
  explicit Tree(bool with_pressure);
  const Node* find(unsigned long ino) const;
  const Node* child(unsigned long parent, std::string_view name) const;
  std::vector<const Node*> children(unsigned long parent) const;

 private:
  std::vector<Node> nodes_;
};

}  // namespace vproc::fuse
