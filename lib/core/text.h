// Splitting helpers for kernel file text.
#pragma once

#include <string_view>
#include <vector>

namespace vproc::core {

// Splits on sep; a trailing empty piece (text ending in sep) is dropped.
std::vector<std::string_view> split(std::string_view text, char sep);
// Splits on runs of spaces and tabs.
std::vector<std::string_view> split_ws(std::string_view text);

}  // namespace vproc::core
