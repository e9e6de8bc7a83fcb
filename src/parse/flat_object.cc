#include "flat_object.h"

#include <cstring>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include "digits.h"
#include "llm_log_exporter/core/ascii.h"
#include "llm_log_exporter/core/json_text.h"
#include "llm_log_exporter/core/line.h"

namespace lle {

namespace {

const char* SkipSpace(const char* p, const char* end) {
  while (p < end && IsJsonSpace(*p)) ++p;
  return p;
}

// The first byte from `p` on that is a quote, a backslash, or outside
// 0x20..0x7F (a signed `< 0x20` catches both control bytes and bytes >= 0x80),
// or a position at or past `end` if none is before it. Loads may reach 31
// bytes past `end`, into the padding.
[[gnu::always_inline]] inline const char* FindSpecial(const char* p, const char* end) {
#if defined(__AVX2__)
  const __m256i quote = _mm256_set1_epi8('"');
  const __m256i backslash = _mm256_set1_epi8('\\');
  const __m256i space = _mm256_set1_epi8(0x20);
  for (; p < end; p += 32) {
    const __m256i bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    const __m256i hits = _mm256_or_si256(
        _mm256_cmpgt_epi8(space, bytes),
        _mm256_or_si256(_mm256_cmpeq_epi8(bytes, quote), _mm256_cmpeq_epi8(bytes, backslash)));
    const auto mask = static_cast<std::uint32_t>(_mm256_movemask_epi8(hits));
    if (mask != 0) return p + __builtin_ctz(mask);
  }
  return end;
#elif defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i space = _mm_set1_epi8(0x20);
  for (; p < end; p += 16) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i hits =
        _mm_or_si128(_mm_cmplt_epi8(bytes, space),
                     _mm_or_si128(_mm_cmpeq_epi8(bytes, quote), _mm_cmpeq_epi8(bytes, backslash)));
    const auto mask = static_cast<std::uint32_t>(_mm_movemask_epi8(hits));
    if (mask != 0) return p + __builtin_ctz(mask);
  }
  return end;
#else
  for (; p < end; ++p) {
    const auto c = static_cast<unsigned char>(*p);
    if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) return p;
  }
  return end;
#endif
}

// The closing quote of the string whose content starts at `p`, or nullptr if
// the content has a backslash, a byte outside 0x20..0x7F or runs past `end`:
// simdjson decides those.
[[gnu::always_inline]] inline const char* ScanString(const char* p, const char* end) {
  const char* hit = FindSpecial(p, end);
  return hit < end && *hit == '"' ? hit : nullptr;
}

// As ScanString, for strings inside a value no field is read from: UTF-8
// and the one-letter escapes are checked here; `\u` escapes go to simdjson.
const char* ScanSkippedString(const char* p, const char* end) {
  for (;;) {
    p = FindSpecial(p, end);
    if (p >= end) return nullptr;
    const auto c = static_cast<unsigned char>(*p);
    if (c == '"') return p;
    if (c == '\\') {
      if (p + 1 >= end || p[1] == '\0' || std::strchr("\"\\/bfnrt", p[1]) == nullptr) {
        return nullptr;
      }
      p += 2;
    } else if (c < 0x20) {
      return nullptr;
    } else {
      const int n = Utf8Length(p, end);
      if (n == 0) return nullptr;
      p += n;
    }
  }
}

// The number of ASCII digits at `p`, at most 16. Reads 16 bytes.
int CountDigits(const char* p) {
#if defined(__SSE2__)
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i digits = _mm_and_si128(_mm_cmpgt_epi8(bytes, _mm_set1_epi8('0' - 1)),
                                       _mm_cmplt_epi8(bytes, _mm_set1_epi8('9' + 1)));
  const auto others = ~static_cast<std::uint32_t>(_mm_movemask_epi8(digits));
  return __builtin_ctz(others);  // bit 16 and up are set: at most 16
#else
  int count = 0;
  while (count < 16 && p[count] >= '0' && p[count] <= '9') ++count;
  return count;
#endif
}

// Powers of ten a double holds exactly.
constexpr double kPowersOfTen[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
constexpr int kMaxDigits = 15;

// `value` followed by the 1 to 15 digits at `p`. Reads at least 8 bytes.
std::uint64_t ReadDigits(std::uint64_t value, const char* p, int count) {
#if defined(LLE_SWAR_DIGITS)
  if (count <= 8) return value * kIntPowersOfTen[count] + DigitsValue(Load64(p), count);
#endif
  for (int i = 0; i < count; ++i) value = value * 10 + static_cast<std::uint64_t>(p[i] - '0');
  return value;
}

// Reads `-?(0|[1-9][0-9]*)(\.[0-9]+)?` of at most kMaxDigits digits at `p`
// (before `end`); returns the byte after it, which is before `end`, or nullptr.
// With w < 10^15 < 2^53 and 10^k exact, w / 10^k is one correctly rounded
// operation (Clinger's fast path), as is simdjson's result, so the two agree
// bit for bit. -0 and -0.x are left to simdjson for their signed zeros.
// Digits are counted 16 at a time, so they may run into the padding: the
// final position check rejects that, and reads stay within 33 bytes of `end`.
[[gnu::always_inline]] inline const char* ParseNumber(const char* p, const char* end,
                                                      double* value) {
  const bool negative = *p == '-';
  if (negative) ++p;
  const int whole = CountDigits(p);
  if (whole == 0 || whole > kMaxDigits || (*p == '0' && (whole > 1 || negative))) return nullptr;
  std::uint64_t digits = ReadDigits(0, p, whole);
  p += whole;
  int fraction = 0;
  if (*p == '.') {
    fraction = CountDigits(p + 1);
    if (fraction == 0 || whole + fraction > kMaxDigits) return nullptr;
    digits = ReadDigits(digits, p + 1, fraction);
    p += 1 + fraction;
  }
  if (p >= end) return nullptr;
  // Below 2^53: the signed conversion is exact and one instruction.
  double number = static_cast<double>(static_cast<std::int64_t>(digits));
  if (fraction > 0) number /= kPowersOfTen[fraction];
  *value = negative ? -number : number;
  return p;
}

// Moves `p` past `c` and the spaces before it; false if another byte comes first.
[[gnu::always_inline]] inline bool Consume(const char*& p, const char* end, char c) {
  if (p < end && *p == c) {  // compact JSON: no space to skip
    ++p;
    return true;
  }
  p = SkipSpace(p, end);
  if (p == end || *p != c) return false;
  ++p;
  return true;
}

// The literal `word` (4 or 5 bytes) at `p`, not checked past it.
bool IsLiteral(const char* p, const char* end, const char* word, std::size_t size) {
  return static_cast<std::size_t>(end - p) >= size && std::memcmp(p, word, size) == 0;
}

// Past `true`, `false` or `null` at `p`, or nullptr (not checked past it).
const char* SkipLiteral(const char* p, const char* end) {
  const std::size_t size = *p == 'f' ? 5 : 4;
  if (!IsLiteral(p, end, *p == 't' ? "true" : *p == 'f' ? "false" : "null", size)) return nullptr;
  return p + size;
}

// Past the object or array that starts at `p` (a value of the line's object
// no field is read from: TGI's `span`, say), checked as strictly as simdjson
// would; nullptr where simdjson must decide (invalid, a `\u` escape, a
// number the fast path does not read, nested deeper than kMaxJsonDepth).
const char* SkipNested(const char* p, const char* end) {
  // Bit d: the container at depth d is an object. The line's object is depth 0.
  constexpr int kLevels = kMaxJsonDepth;
  std::uint64_t objects[(kLevels + 63) / 64] = {};
  int depth = 0;  // containers open inside the line's object
  const auto is_object = [&objects](int d) { return (objects[d / 64] >> (d % 64) & 1) != 0; };
  const auto open = [&](char c) {
    if (depth + 1 >= kLevels) return false;
    ++depth;
    const std::uint64_t bit = std::uint64_t{1} << (depth % 64);
    objects[depth / 64] = c == '{' ? objects[depth / 64] | bit : objects[depth / 64] & ~bit;
    return true;
  };
  const auto close = [&](int d) { return is_object(d) ? '}' : ']'; };
  if (!open(*p++)) return nullptr;
  bool first = true;  // right after an opening bracket
  for (;;) {
    p = SkipSpace(p, end);
    if (p == end) return nullptr;
    if (first && *p == close(depth)) {
      ++p;
      --depth;
    } else {
      if (is_object(depth)) {
        if (*p != '"' || (p = ScanSkippedString(p + 1, end)) == nullptr) return nullptr;
        ++p;
        if (!Consume(p, end, ':')) return nullptr;
        p = SkipSpace(p, end);
        if (p == end) return nullptr;
      }
      if (*p == '{' || *p == '[') {
        if (!open(*p++)) return nullptr;
        first = true;
        continue;
      }
      double number;
      if (*p == '"') {
        p = ScanSkippedString(p + 1, end);
        if (p != nullptr) ++p;
      } else if (*p == '-' || (*p >= '0' && *p <= '9')) {
        p = ParseNumber(p, end, &number);
      } else {
        p = SkipLiteral(p, end);
      }
      if (p == nullptr) return nullptr;
    }
    // After a value: a comma, or the ends of containers.
    for (;;) {
      if (depth == 0) return p;
      p = SkipSpace(p, end);
      if (p == end) return nullptr;
      if (*p == ',') {
        ++p;
        first = false;
        break;
      }
      if (*p != close(depth)) return nullptr;
      ++p;
      --depth;
    }
  }
}

}  // namespace

FlatKeys::FlatKeys() {
  // Byte masks built through memory, so they keep a name's leading bytes
  // whatever the byte order.
  for (std::size_t size = 0; size <= 16; ++size) {
    char ones[16] = {};
    std::memset(ones, 0xff, size);
    masks_[size][0] = Load64(ones);
    masks_[size][1] = Load64(ones + 8);
  }
  slots_.resize(16);
  slot_mask_ = 15;
  shift_ = 60;
}

void FlatKeys::Insert(const Slot& slot) {
  std::size_t i = Home(slot.lo, slot.hi, slot.size);
  while (slots_[i].size != kEmpty) i = (i + 1) & slot_mask_;
  slots_[i] = slot;
}

void FlatKeys::Add(std::string_view name, Key key) {
  if (4 * (names_.size() + 1) > slots_.size()) {
    std::vector<Slot> old(2 * slots_.size());
    old.swap(slots_);
    slot_mask_ = slots_.size() - 1;
    --shift_;
    for (const Slot& slot : old) {
      if (slot.size != kEmpty) Insert(slot);
    }
  }
  char head[16] = {};
  std::memcpy(head, name.data(), name.size() < 16 ? name.size() : 16);
  Slot slot;
  slot.lo = Load64(head);
  slot.hi = Load64(head + 8);
  slot.size = name.size();
  slot.name = names_.size();
  slot.key = key;
  names_.emplace_back(name);
  Insert(slot);
}

bool FlatKeys::SameTail(const char* name, const Slot& slot) const {
  return std::memcmp(name + 16, names_[slot.name].data() + 16, slot.size - 16) == 0;
}

void FlatParser::SeenKey::Remember(const char* name, const char* name_end, const char* end,
                                   const FlatKeys::Key* found) {
  const auto pattern_size = static_cast<std::size_t>(name_end - name) + 2;
  if (pattern_size > kMaxSize || end - name_end < 2 || name_end[1] != ':') {
    size = kNone;
    return;
  }
  char bytes[kMaxSize] = {};
  char ones[kMaxSize] = {};
  std::memcpy(bytes, name, pattern_size);
  std::memset(ones, 0xff, pattern_size);
  for (int i = 0; i < 3; ++i) {
    words[i] = Load64(bytes + 8 * i);
    masks[i] = Load64(ones + 8 * i);
  }
  size = pattern_size;
  key = found;
}

FlatResult FlatParser::Parse(std::string_view line, std::size_t start, Record& record) {
  const char* end = line.data() + line.size();
  const char* p = line.data() + start + 1;
  bool request = false;
  if (!Consume(p, end, '}')) {
    for (std::size_t index = 0;; ++index) {
      if (!Consume(p, end, '"')) return FlatResult::kFallback;
      // A remembered key passed ScanString before, so its bytes need no check.
      const FlatKeys::Key* key;
      SeenKey* seen = index < kSeenKeys ? &seen_[index] : nullptr;
      if (seen != nullptr && seen->Matches(p, end)) {
        key = seen->key;
        p += seen->size;
      } else {
        const char* name_end = ScanString(p, end);
        if (name_end == nullptr) return FlatResult::kFallback;
        key = keys_.Find(p, name_end - p);
        if (seen != nullptr) seen->Remember(p, name_end, end, key);
        p = name_end + 1;
        if (!Consume(p, end, ':')) return FlatResult::kFallback;
      }
      p = SkipSpace(p, end);
      if (p == end) return FlatResult::kFallback;

      FieldValue value;
      if (*p == '"') {
        const char* text_end = ScanString(p + 1, end);
        if (text_end == nullptr) return FlatResult::kFallback;
        value = {FieldState::kString, 0, std::string_view(p + 1, text_end - (p + 1))};
        p = text_end + 1;
      } else if (*p == '-' || (*p >= '0' && *p <= '9')) {
        double number;
        p = ParseNumber(p, end, &number);
        if (p == nullptr) return FlatResult::kFallback;
        value = {FieldState::kNumber, number, {}};
      } else {
        // Literals, and objects and arrays no wanted key is inside (they
        // are skipped); anything else goes to simdjson.
        if (*p == '{' || *p == '[') {
          if (key != nullptr && key->nested) return FlatResult::kFallback;
          p = SkipNested(p, end);
        } else {
          p = SkipLiteral(p, end);
        }
        if (p == nullptr) return FlatResult::kFallback;
        value = {FieldState::kWrongType, 0, {}};
      }
      // Only now is the value known to end properly: `truex`, `01` and `1e5`
      // fail here.
      if (p == end || (*p != ',' && *p != '}')) {
        p = SkipSpace(p, end);
        if (p == end || (*p != ',' && *p != '}')) return FlatResult::kFallback;
      }
      if (key != nullptr) {
        request |= key->marks_request;
        // A duplicate key overrides the earlier value, as in WalkDom.
        if (key->field >= 0) record.Set(key->field, value);
      }
      if (*p++ == '}') break;
    }
  }
  if (SkipSpace(p, end) != end) return FlatResult::kFallback;
  return request ? FlatResult::kRequest : FlatResult::kEvent;
}

}  // namespace lle
