#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "llm_log_exporter/parse/record.h"
#include "load.h"

namespace lle {

/// The wanted top-level keys of a FlatParser: the field each fills and whether
/// it marks a request. Owns copies of the names; Find is safe from any thread.
class FlatKeys {
 public:
  struct Key {
    int field = -1;  // index into Record::fields, or -1
    bool marks_request = false;
    bool nested = false;  // wanted keys are inside its value: simdjson reads it
  };

  FlatKeys();

  void Add(std::string_view name, Key key);

  /// The key named [name, name + size), or nullptr. `name` must be followed by
  /// 16 readable bytes (a key inside a padded line is).
  [[gnu::always_inline]] const Key* Find(const char* name, std::size_t size) const {
    const std::size_t head = size < 16 ? size : 16;
    const std::uint64_t lo = Load64(name) & masks_[head][0];
    const std::uint64_t hi = Load64(name + 8) & masks_[head][1];
    for (std::size_t i = Home(lo, hi, size);; i = (i + 1) & slot_mask_) {
      const Slot& slot = slots_[i];
      if (slot.lo == lo && slot.hi == hi && slot.size == size &&
          (size <= 16 || SameTail(name, slot))) {
        return &slot.key;
      }
      if (slot.size == kEmpty) return nullptr;
    }
  }

 private:
  static constexpr std::size_t kEmpty = ~std::size_t{0};

  // Every key of every line is looked up: an open-addressing table keyed by
  // the first 16 bytes as two masked words and the length, so a lookup costs
  // two loads, a multiply and usually one slot compare, not a memcmp.
  struct Slot {
    std::uint64_t lo = 0, hi = 0;
    std::size_t size = kEmpty;
    std::size_t name = 0;  // index into names_
    Key key;
  };

  std::size_t Home(std::uint64_t lo, std::uint64_t hi, std::size_t size) const {
    return static_cast<std::size_t>((((lo + size) ^ hi) * 0x9e3779b97f4a7c15) >> shift_);
  }
  // Names longer than 16 bytes, kept out of line so Find stays small.
  [[gnu::noinline]] bool SameTail(const char* name, const Slot& slot) const;
  void Insert(const Slot& slot);

  std::uint64_t masks_[17][2];  // [min(size, 16)]: the bytes of a name in each word
  std::vector<Slot> slots_;     // a power of two, at most a quarter used
  std::size_t slot_mask_ = 0;   // slots_.size() - 1
  int shift_ = 0;               // 64 - log2(slots_.size())
  std::vector<std::string> names_;
};

enum class FlatResult : std::uint8_t { kRequest, kEvent, kFallback };

/// Parses JSON objects of a simple subset: in the values it reads, no
/// escapes or bytes outside 0x20..0x7F in strings; numbers of at most 15
/// digits without exponent (and none starting with -0); objects and arrays
/// only where no wanted key is inside them (they are checked and skipped:
/// their strings may hold UTF-8 and escapes other than \u). Owns its keys and a
/// memory of the last line's keys; one per LineParser, not thread-safe.
class FlatParser {
 public:
  void AddKey(std::string_view name, FlatKeys::Key key) { keys_.Add(name, key); }

  /// Sets the fields of `record` exactly as the DOM path would and returns the
  /// line's kind; anything outside the subset is kFallback, with `record`'s
  /// fields partly set. `line[start]` must be '{' and `line` padded (kLinePadding).
  FlatResult Parse(std::string_view line, std::size_t start, Record& record);

 private:
  // Lines of one server repeat their keys in the same order: the key seen at
  // the same position of an earlier line, with its closing quote and colon,
  // is checked with three masked 8-byte compares. That spares the string
  // scan, the table lookup and the colon's check.
  struct SeenKey {
    static constexpr std::size_t kMaxSize = 24;
    static constexpr std::size_t kNone = ~std::size_t{0};
    std::uint64_t words[3] = {}, masks[3] = {};
    std::size_t size = kNone;  // of `name":`, at most kMaxSize; or kNone
    const FlatKeys::Key* key = nullptr;

    // Whether the line at `name` (before `end`) continues with `name":`.
    // Reads 24 bytes at `name`.
    bool Matches(const char* name, const char* end) const {
      return size != kNone && (Load64(name) & masks[0]) == words[0] &&
             (Load64(name + 8) & masks[1]) == words[1] &&
             (Load64(name + 16) & masks[2]) == words[2] &&
             end - name >= static_cast<std::ptrdiff_t>(size);
    }
    // `name` to `name_end` is a key that passed ScanString.
    void Remember(const char* name, const char* name_end, const char* end,
                  const FlatKeys::Key* found);
  };
  static constexpr std::size_t kSeenKeys = 32;

  FlatKeys keys_;
  SeenKey seen_[kSeenKeys];
};

}  // namespace lle
