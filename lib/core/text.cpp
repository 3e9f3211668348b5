#include "lib/core/text.h"

namespace vproc::core {

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  for_each_piece(text, sep, [&](std::string_view piece) { out.push_back(piece); });
  return out;
}

std::vector<std::string_view> split_ws(std::string_view text) {
  std::vector<std::string_view> out;
  for (std::string_view tok = next_token(&text); !tok.empty(); tok = next_token(&text)) {
    out.push_back(tok);
  }
  return out;
}

}  // namespace vproc::core
