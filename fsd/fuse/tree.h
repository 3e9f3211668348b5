// The served tree: the directories and files of lib/files' table, laid out by
// their paths under the mountpoint. Inode numbers are indexes into it (1 is
// FUSE's root), assigned in table order. Nothing outside it exists.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "lib/files/files.h"

namespace vproc::fuse {

struct Node {
  unsigned long ino;
  unsigned long parent;
  std::string name;
  bool dir;
  FileKind kind;  // files only
};

class Tree {
 public:
  // Files that need PSI are left out unless with_pressure.
  explicit Tree(bool with_pressure);
  const Node* find(unsigned long ino) const;
  const Node* child(unsigned long parent, std::string_view name) const;
  std::vector<const Node*> children(unsigned long parent) const;

 private:
  unsigned long add(unsigned long parent, std::string_view name, bool dir, FileKind kind);

  std::vector<Node> nodes_;
};

}  // namespace vproc::fuse
