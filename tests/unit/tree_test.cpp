// The served tree (fsd/fuse/tree.h), built from lib/files' table.
#include "fsd/fuse/tree.h"

#include <doctest/doctest.h>

#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "lib/files/files.h"

using namespace vproc;
using vproc::fuse::Node;
using vproc::fuse::Tree;

namespace {

// The node at a path below the mountpoint, walked name by name; nullptr if
// any step is missing.
const Node* walk(const Tree& t, const std::string& path) {
  const Node* n = t.find(1);
  std::istringstream in(path);
  for (std::string part; n && std::getline(in, part, '/');) n = t.child(n->ino, part);
  return n;
}

std::vector<std::string> child_names(const Tree& t, unsigned long ino) {
  std::vector<std::string> out;
  for (const Node* n : t.children(ino)) out.push_back(n->name);
  return out;
}

// Files and directories the table implies (the root not counted).
size_t expected_nodes(bool with_pressure) {
  std::set<std::string> paths;
  for (const ServedFile& f : served_files()) {
    if (f.needs_psi && !with_pressure) continue;
    std::string p = f.source;
    paths.insert(p);
    for (size_t s = p.find('/'); s != std::string::npos; s = p.find('/', s + 1)) {
      paths.insert(p.substr(0, s));
    }
  }
  return paths.size();
}

}  // namespace

TEST_CASE("tree: the root is inode 1, its own parent, a directory") {
  Tree t(false);
  const Node* root = t.find(1);
  REQUIRE(root != nullptr);
  CHECK(root->ino == 1);
  CHECK(root->parent == 1);
  CHECK(root->dir);
  CHECK(root->name.empty());
  CHECK(t.find(0) == nullptr);
  CHECK(child_names(t, 1) == std::vector<std::string>{"proc", "sys"});
  CHECK(t.child(1, "") == nullptr);  // the root is nobody's child
}

TEST_CASE("tree: every row of served_files() is reachable by its source path") {
  for (bool with_pressure : {false, true}) {
    INFO("with_pressure " << with_pressure);
    Tree t(with_pressure);
    for (const ServedFile& f : served_files()) {
      INFO(f.source);
      const Node* n = walk(t, f.source);
      if (f.needs_psi && !with_pressure) {
        CHECK(n == nullptr);
        continue;
      }
      REQUIRE(n != nullptr);
      CHECK_FALSE(n->dir);
      CHECK(n->kind == f.kind);
      CHECK(t.find(n->ino) == n);
      CHECK(t.children(n->ino).empty());
    }
  }
}

TEST_CASE("tree: pressure files only with_pressure, in their own directory") {
  Tree without(false);
  CHECK(walk(without, "proc/pressure") == nullptr);
  Tree with(true);
  const Node* pressure = walk(with, "proc/pressure");
  REQUIRE(pressure != nullptr);
  CHECK(pressure->dir);
  CHECK(child_names(with, pressure->ino) == std::vector<std::string>{"cpu", "memory", "io"});
  CHECK(walk(with, "proc/pressure/cpu")->kind == FileKind::kPressureCpu);
}

TEST_CASE("tree: inodes 1..N with nothing beyond; files numbered in table order") {
  for (bool with_pressure : {false, true}) {
    Tree t(with_pressure);
    const size_t n = expected_nodes(with_pressure) + 1;
    for (unsigned long ino = 1; ino <= n; ++ino) {
      const Node* node = t.find(ino);
      REQUIRE(node != nullptr);
      CHECK(node->ino == ino);
      const Node* parent = t.find(node->parent);
      REQUIRE(parent != nullptr);
      CHECK(parent->dir);
      if (ino != 1) CHECK(t.child(node->parent, node->name) == node);
    }
    CHECK(t.find(n + 1) == nullptr);
    unsigned long last = 0;
    for (const ServedFile& f : served_files()) {
      if (f.needs_psi && !with_pressure) continue;
      const unsigned long ino = walk(t, f.source)->ino;
      CHECK(ino > last);
      last = ino;
    }
  }
}

TEST_CASE("tree: directories shared between rows exist once; lookups are exact") {
  Tree t(true);
  const Node* proc = walk(t, "proc");
  REQUIRE(proc != nullptr);
  size_t proc_rows = 0;
  for (const ServedFile& f : served_files()) {
    std::string s = f.source;
    if (s.rfind("proc/", 0) == 0 && s.find('/', 5) == std::string::npos) ++proc_rows;
  }
  CHECK(child_names(t, proc->ino).size() == proc_rows + 1);  // and pressure/
  CHECK(t.child(proc->ino, "meminf") == nullptr);
  CHECK(t.child(proc->ino, "meminfo2") == nullptr);
  CHECK(t.child(proc->ino, "MEMINFO") == nullptr);
  CHECK(t.child(1, "meminfo") == nullptr);
  CHECK(t.child(9999, "meminfo") == nullptr);
  CHECK(t.children(9999).empty());
  const Node* cpu = walk(t, "sys/devices/system/cpu");
  REQUIRE(cpu != nullptr);
  CHECK(cpu->dir);
  CHECK(child_names(t, cpu->ino) == std::vector<std::string>{"online", "possible", "present"});
  for (const Node* c : t.children(proc->ino)) CHECK(c->parent == proc->ino);
}
