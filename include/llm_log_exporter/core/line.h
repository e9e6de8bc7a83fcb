#pragma once

#include <cstddef>

namespace lle {

/// Bytes that may be read past the end of every line handed downstream. Sources
/// and framers allocate them so the JSON parser (simdjson needs 64) never copies
/// a line; their content is unspecified.
inline constexpr std::size_t kLinePadding = 64;

/// How deep a line's JSON (or an ingested msgpack record) may nest: Python's
/// json module gives up near this depth too; simdjson's own limit is higher.
inline constexpr int kMaxJsonDepth = 512;

}  // namespace lle
