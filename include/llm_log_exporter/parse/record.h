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

/// A classified line and the values of the fields a LineParser (or a text
/// rule) was asked for, by index in the order asked. Views point into the
/// parser or the line and live until the parser's next Parse or the line's
/// end, whichever comes first.
///
/// Which fields a line holds is kept in bit masks beside the values, so that
/// a new line clears 3 words rather than every field, and the mapper tells
/// from a mask which rules can fire and which fields are unusable without
/// reading each field. A field is only read through Get and written through
/// Set, which keep the masks and the values in step.
class Record {
 public:
  LineKind kind = LineKind::kNotJson;

  /// Field `i`'s value this line: kMissing unless Set since the last Clear.
  const FieldValue& Get(int i) const {
    return present_ >> i & 1 ? values_[static_cast<std::size_t>(i)] : kMissingValue;
  }
  /// Sets field `i` (a kMissing value unsets it). `i` < kMaxFields.
  void Set(int i, const FieldValue& value) {
    const std::uint64_t bit = std::uint64_t{1} << i;
    values_[static_cast<std::size_t>(i)] = value;
    present_ = (present_ & ~bit) | (value.state != FieldState::kMissing ? bit : 0);
    numbers_ = (numbers_ & ~bit) | (value.state == FieldState::kNumber ? bit : 0);
    strings_ = (strings_ & ~bit) | (value.state == FieldState::kString ? bit : 0);
  }
  /// Every field missing.
  void Clear() { present_ = numbers_ = strings_ = 0; }

  /// Bit i: field i is set (not kMissing), a number, a string.
  std::uint64_t present() const { return present_; }
  std::uint64_t numbers() const { return numbers_; }
  std::uint64_t strings() const { return strings_; }

 private:
  static constexpr FieldValue kMissingValue{};
  std::uint64_t present_ = 0;
  std::uint64_t numbers_ = 0;
  std::uint64_t strings_ = 0;
  std::array<FieldValue, kMaxFields> values_;
};

}  // namespace lle
