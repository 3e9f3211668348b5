// The shipped oci-hooks.d files must parse under the hooks.d 1.0.0 schema
// that podman/CRI-O enforce: a bad file breaks every `podman run`.
#include <doctest/doctest.h>
#include <regex.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

using nlohmann::json;

namespace {

// POSIX ERE (<regex.h>) stands in for Go's RE2 syntax: the shipped patterns
// use only what both share. (std::regex trips GCC 12 warnings under ASan.)
bool ere_compiles(const std::string& re) {
  regex_t r;
  if (regcomp(&r, re.c_str(), REG_EXTENDED | REG_NOSUB) != 0) return false;
  regfree(&r);
  return true;
}

bool ere_search(const std::string& re, const std::string& text) {
  regex_t r;
  if (regcomp(&r, re.c_str(), REG_EXTENDED | REG_NOSUB) != 0) return false;
  bool m = regexec(&r, text.c_str(), 0, nullptr, 0) == 0;
  regfree(&r);
  return m;
}

void check_hook_file(const std::filesystem::path& p) {
  INFO("file: " << p.string());
  std::ifstream in(p);
  REQUIRE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
  REQUIRE(j.is_object());
  for (auto& [k, v] : j.items()) {
    INFO("top-level key " << k);
    CHECK(std::set<std::string>{"version", "hook", "when", "stages"}.count(k) == 1);
  }
  CHECK(j.value("version", "") == "1.0.0");
  REQUIRE(j.contains("hook"));
  const json& hook = j["hook"];
  REQUIRE(hook.is_object());
  std::string path = hook.value("path", "");
  CHECK(!path.empty());
  CHECK(path[0] == '/');
  if (hook.contains("args")) {
    REQUIRE(hook["args"].is_array());
    CHECK(!hook["args"].empty());
    for (const json& a : hook["args"]) CHECK(a.is_string());
  }
  if (hook.contains("timeout")) CHECK((hook["timeout"].is_number_integer() && hook["timeout"] > 0));
  REQUIRE(j.contains("when"));
  const json& when = j["when"];
  REQUIRE(when.is_object());
  CHECK(!when.empty());
  for (auto& [k, v] : when.items()) {
    INFO("when key " << k);
    CHECK(std::set<std::string>{"always", "annotations", "commands", "hasBindMounts"}.count(k) ==
          1);
  }
  if (when.contains("annotations")) {
    REQUIRE(when["annotations"].is_object());
    CHECK(!when["annotations"].empty());
    for (auto& [k, v] : when["annotations"].items()) {
      REQUIRE(v.is_string());
      std::string val = v.get<std::string>();
      CHECK(ere_compiles(k));
      CHECK(ere_compiles(val));
      CHECK(ere_search(k, "vproc.io/enable"));
      CHECK_FALSE(ere_search(k, "vprocXio/enable"));
      CHECK(ere_search(val, "true"));
      CHECK_FALSE(ere_search(val, "false"));
      CHECK_FALSE(ere_search(val, "untrue"));
    }
  }
  REQUIRE(j.contains("stages"));
  REQUIRE(j["stages"].is_array());
  CHECK(!j["stages"].empty());
  const std::set<std::string> known = {"prestart",       "createRuntime", "createContainer",
                                       "startContainer", "poststart",     "poststop"};
  for (const json& s : j["stages"]) {
    REQUIRE(s.is_string());
    CHECK(known.count(s.get<std::string>()) == 1);
  }
}

}  // namespace

TEST_CASE("oci-hooks.d files follow the hooks.d 1.0.0 schema") {
  std::filesystem::path dir = std::filesystem::path(VPROC_SOURCE_DIR) / "oci-hooks.d";
  int n = 0;
  bool create = false, poststop = false;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() != ".json") continue;
    ++n;
    check_hook_file(e.path());
    std::ifstream in(e.path());
    json j = json::parse(in);
    for (const json& s : j["stages"]) {
      create |= s == "createRuntime";
      poststop |= s == "poststop";
    }
  }
  CHECK(n == 2);
  CHECK(create);
  CHECK(poststop);
}
