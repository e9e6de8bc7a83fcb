#include "flat_object.h"

#include <cstring>
#include <utility>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

namespace lle {

namespace {

std::uint64_t Load64(const char* p) {
  std::uint64_t word;
  std::memcpy(&word, p, sizeof(word));
  return word;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

const char* SkipSpace(const char* p, const char* end) {
  while (p < end && IsSpace(*p)) ++p;
  return p;
}

// The closing quote of the string whose content starts at `p`, or nullptr if
// the content has a backslash, a byte outside 0x20..0x7F or runs past `end`:
// simdjson decides those. A signed `< 0x20` catches both control bytes and
// bytes >= 0x80. Loads may reach 31 bytes past `end`, into the padding.
const char* ScanString(const char* p, const char* end) {
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
    if (mask != 0) {
      const char* hit = p + __builtin_ctz(mask);
      return hit < end && *hit == '"' ? hit : nullptr;
    }
  }
  return nullptr;
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
    if (mask != 0) {
      const char* hit = p + __builtin_ctz(mask);
      return hit < end && *hit == '"' ? hit : nullptr;
    }
  }
  return nullptr;
#else
  for (; p < end; ++p) {
    const auto c = static_cast<unsigned char>(*p);
    if (c == '"') return p;
    if (c < 0x20 || c >= 0x80 || c == '\\') return nullptr;
  }
  return nullptr;
#endif
}

// Powers of ten a double holds exactly.
constexpr double kPowersOfTen[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
constexpr int kMaxDigits = 15;

// Reads `-?(0|[1-9][0-9]*)(\.[0-9]+)?` of at most kMaxDigits digits at `p`;
// returns the byte after it, or nullptr. With w < 10^15 < 2^53 and 10^k exact,
// w / 10^k is one correctly rounded operation (Clinger's fast path), as is
// simdjson's result, so the two agree bit for bit. -0 and -0.x are left to
// simdjson for their signed zeros.
const char* ParseNumber(const char* p, const char* end, double* value) {
  const bool negative = *p == '-';
  if (negative) ++p;
  if (p == end) return nullptr;
  std::uint64_t digits = 0;
  int count = 0;
  if (*p == '0') {
    if (negative) return nullptr;
    ++p;
    count = 1;
  } else if (IsDigit(*p)) {
    for (; p < end && IsDigit(*p) && count <= kMaxDigits; ++p, ++count) {
      digits = digits * 10 + static_cast<std::uint64_t>(*p - '0');
    }
  } else {
    return nullptr;
  }
  int fraction = 0;
  if (p < end && *p == '.') {
    ++p;
    for (; p < end && IsDigit(*p) && count <= kMaxDigits; ++p, ++count, ++fraction) {
      digits = digits * 10 + static_cast<std::uint64_t>(*p - '0');
    }
    if (fraction == 0) return nullptr;
  }
  // A digit here is one too many; an exponent or junk fails the caller's check.
  if (count > kMaxDigits) return nullptr;
  double number = static_cast<double>(digits);
  if (fraction > 0) number /= kPowersOfTen[fraction];
  *value = negative ? -number : number;
  return p;
}

}  // namespace

void FlatKeys::Add(std::string_view name, Key key) {
  char bytes[16] = {};
  char ones[16] = {};
  const std::size_t head = name.size() < 16 ? name.size() : 16;
  std::memcpy(bytes, name.data(), head);
  std::memset(ones, 0xff, head);
  Entry entry;
  entry.lo = Load64(bytes);
  entry.hi = Load64(bytes + 8);
  entry.lo_mask = Load64(ones);
  entry.hi_mask = Load64(ones + 8);
  entry.name = std::string(name);
  entry.key = key;
  if (by_length_.size() <= name.size()) by_length_.resize(name.size() + 1);
  by_length_[name.size()].push_back(std::move(entry));
}

const FlatKeys::Key* FlatKeys::Find(const char* name, std::size_t size) const {
  if (size >= by_length_.size()) return nullptr;
  for (const Entry& entry : by_length_[size]) {
    if ((Load64(name) & entry.lo_mask) == entry.lo &&
        (Load64(name + 8) & entry.hi_mask) == entry.hi &&
        (size <= 16 || std::memcmp(name + 16, entry.name.data() + 16, size - 16) == 0)) {
      return &entry.key;
    }
  }
  return nullptr;
}

FlatResult ParseFlatObject(std::string_view line, std::size_t start, const FlatKeys& keys,
                           FieldValue* fields) {
  const char* end = line.data() + line.size();
  const char* p = SkipSpace(line.data() + start + 1, end);
  bool request = false;
  if (p < end && *p == '}') {
    ++p;
  } else {
    for (;;) {
      if (p == end || *p != '"') return FlatResult::kFallback;
      const char* name = p + 1;
      const char* name_end = ScanString(name, end);
      if (name_end == nullptr) return FlatResult::kFallback;
      p = SkipSpace(name_end + 1, end);
      if (p == end || *p != ':') return FlatResult::kFallback;
      p = SkipSpace(p + 1, end);
      if (p == end) return FlatResult::kFallback;

      FieldValue value;
      switch (*p) {
        case '"': {
          const char* text_end = ScanString(p + 1, end);
          if (text_end == nullptr) return FlatResult::kFallback;
          value = {FieldState::kString, 0, std::string_view(p + 1, text_end - (p + 1))};
          p = text_end + 1;
          break;
        }
        case 't':
          if (end - p < 4 || std::memcmp(p, "true", 4) != 0) return FlatResult::kFallback;
          value.state = FieldState::kWrongType;
          p += 4;
          break;
        case 'f':
          if (end - p < 5 || std::memcmp(p, "false", 5) != 0) return FlatResult::kFallback;
          value.state = FieldState::kWrongType;
          p += 5;
          break;
        case 'n':
          if (end - p < 4 || std::memcmp(p, "null", 4) != 0) return FlatResult::kFallback;
          value.state = FieldState::kWrongType;
          p += 4;
          break;
        default:
          // Numbers; objects, arrays and anything invalid go to simdjson.
          value.state = FieldState::kNumber;
          p = ParseNumber(p, end, &value.number);
          if (p == nullptr) return FlatResult::kFallback;
          break;
      }
      // Only now is the value known to end properly: `truex`, `01` and `1e5`
      // fail here.
      p = SkipSpace(p, end);
      if (p == end || (*p != ',' && *p != '}')) return FlatResult::kFallback;

      if (const FlatKeys::Key* key = keys.Find(name, name_end - name)) {
        request |= key->marks_request;
        // A duplicate key overrides the earlier value, as in WalkDom.
        if (key->field >= 0) fields[key->field] = value;
      }
      if (*p++ == '}') break;
      p = SkipSpace(p, end);
    }
  }
  if (SkipSpace(p, end) != end) return FlatResult::kFallback;
  return request ? FlatResult::kRequest : FlatResult::kEvent;
}

}  // namespace lle
