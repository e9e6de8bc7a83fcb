#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace lle {

/// What a line is (DESIGN.md §3).
enum class LineKind : std::uint8_t {
  kRequest,      // JSON object with one of the request keys
  kEvent,        // any other JSON object
  kNotJson,      // anything else, including JSON that is not an object
  kInvalidUtf8,  // not valid UTF-8; nothing of it is used
};

enum class FieldState : std::uint8_t {
  kMissing,
  kNumber,      // finite, within double range: `number` holds it
  kString,      // `text` holds it, unescaped
  kWrongType,   // bool, null, object or array
  kOutOfRange,  // a JSON number beyond double range (1e400, huge integers)
};

struct FieldValue {
  FieldState state = FieldState::kMissing;
  double number = 0;
  std::string_view text;
};

inline constexpr std::size_t kMaxFields = 64;

/// A classified line and the values of the fields a LineParser was asked for,
/// in the order asked. Views point into the parser or the line and live until
/// the parser's next Parse or the line's end, whichever comes first.
struct Record {
  LineKind kind = LineKind::kNotJson;
  std::array<FieldValue, kMaxFields> fields;
};

}  // namespace lle
