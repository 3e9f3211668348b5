// The tokenizer of kernel file text: pieces between separators, lines, and
// runs of non-whitespace (whitespace is vproc::is_space, the set trim() uses).
// Pieces are views into the text; the for_each_* forms and next_token()
// allocate nothing, for parsers on vprocd's hot path.
#pragma once

#include <string_view>
#include <vector>

#include "lib/base/io.h"

namespace vproc::core {

// Calls fn(piece) for each piece of text between separators; a trailing empty
// piece (text ending in sep) is dropped.
template <typename Fn>
void for_each_piece(std::string_view text, char sep, Fn fn) {
  while (!text.empty()) {
    size_t end = text.find(sep);
    fn(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
  }
}

template <typename Fn>
void for_each_line(std::string_view text, Fn fn) {
  for_each_piece(text, '\n', fn);
}

// The pieces of for_each_piece, collected.
std::vector<std::string_view> split(std::string_view text, char sep);

// The next run of non-whitespace in *rest, or "" when none is left; *rest
// then continues after it.
inline std::string_view next_token(std::string_view* rest) {
  std::string_view s = *rest;
  size_t a = 0;
  while (a < s.size() && is_space(s[a])) ++a;
  size_t b = a;
  while (b < s.size() && !is_space(s[b])) ++b;
  *rest = s.substr(b);
  return s.substr(a, b - a);
}

// The tokens of next_token, collected.
std::vector<std::string_view> split_ws(std::string_view text);

}  // namespace vproc::core
