#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "llm_log_exporter/parse/record.h"

namespace lle {

/// The wanted top-level keys for ParseFlatObject: the field each fills and
/// whether it marks a request. Immutable once built; safe to read from any thread.
class FlatKeys {
 public:
  struct Key {
    int field = -1;  // index into Record::fields, or -1
    bool marks_request = false;
  };

  void Add(std::string_view name, Key key);

  /// The key named [name, name + size), or nullptr. `name` must be followed by
  /// 16 readable bytes (a key inside a padded line is).
  const Key* Find(const char* name, std::size_t size) const;

 private:
  // The first 16 bytes of a name as two words; the masks keep the name's bytes
  // of a 16-byte load, so a lookup costs two loads and compares, not a memcmp.
  struct Entry {
    std::uint64_t lo = 0, hi = 0;
    std::uint64_t lo_mask = 0, hi_mask = 0;
    std::string name;
    Key key;
  };
  std::vector<std::vector<Entry>> by_length_;
};

enum class FlatResult : std::uint8_t { kRequest, kEvent, kFallback };

/// Parses `line` if it is a flat JSON object of a simple subset: no nesting, no
/// escapes or bytes outside 0x20..0x7F in strings, numbers of at most 15 digits
/// without exponent (and none starting with -0). Fills `fields` exactly as the
/// DOM path would and returns the line's kind; anything else is kFallback, with
/// `fields` partly written. `line[start]` must be '{' and `line` padded (kLinePadding).
FlatResult ParseFlatObject(std::string_view line, std::size_t start, const FlatKeys& keys,
                           FieldValue* fields);

}  // namespace lle
