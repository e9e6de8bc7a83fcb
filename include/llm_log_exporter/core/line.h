#pragma once

#include <cstddef>

namespace lle {

/// Bytes that may be read past the end of every line handed downstream. Sources
/// and framers allocate them so the JSON parser (simdjson needs 64) never copies
/// a line; their content is unspecified.
inline constexpr std::size_t kLinePadding = 64;

}  // namespace lle
