// Helpers shared by the libFuzzer targets in this directory.
//
// Inputs that feed several files at once (blkio's two files, a cpu list plus
// cpu.max, ...) separate them with NUL bytes: kernel text never holds NUL, so
// a seed is just the files joined with '\0'. Malformed input is expected to
// throw vproc::SysError (or hook::InputError); a target catches exactly that
// and lets every other exception escape, so libFuzzer reports it as a crash.
// FUZZ_CHECK states a property the code promises; a violation aborts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "lib/base/sys_error.h"

namespace vproc::fuzz {

// Splits data on '\0' into exactly n parts; missing parts are empty and the
// last part keeps any further NULs.
inline std::vector<std::string_view> parts(const uint8_t* data, size_t size, size_t n) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> out;
  while (out.size() + 1 < n) {
    auto nul = rest.find('\0');
    if (nul == std::string_view::npos) {
      out.push_back(rest);
      rest = {};
      continue;
    }
    out.push_back(rest.substr(0, nul));
    rest.remove_prefix(nul + 1);
  }
  out.push_back(rest);
  return out;
}

inline std::string_view text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// True when f throws vproc::SysError , the documented answer to malformed input.
template <typename F>
bool rejected(F&& f) {
  try {
    f();
  } catch (const ::vproc::SysError&) {
    return true;
  }
  return false;
}

[[noreturn]] inline void check_failed(const char* cond, const char* file, int line) {
  std::fprintf(stderr, "FUZZ_CHECK failed: %s at %s:%d\n", cond, file, line);
  std::abort();
}

}  // namespace vproc::fuzz

#define FUZZ_CHECK(cond) ((cond) ? (void)0 : ::vproc::fuzz::check_failed(#cond, __FILE__, __LINE__))
