#pragma once

#include <cstddef>
#include <cstdint>

#include "load.h"

// Decimal digits eight at a time (SWAR), for the parse stage's number and
// date readers (private to src/parse/). Words are 8 bytes loaded in memory
// order on a little-endian machine: byte 0 is the first character.
namespace lle {

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define LLE_SWAR_DIGITS 1
#endif

inline constexpr std::uint64_t kIntPowersOfTen[] = {1,      10,      100,      1000,     10000,
                                                    100000, 1000000, 10000000, 100000000};

/// The value of the first `count` (1 to 8) bytes of `word`, each an ASCII
/// digit: three multiplies (simdjson's parse_eight_digits). Shifted to the
/// top of the word, the bytes below become leading zeros.
inline std::uint64_t DigitsValue(std::uint64_t word, int count) {
  word = (word << (8 * (8 - count))) & 0x0f0f0f0f0f0f0f0f;
  word = (word * 2561) >> 8;
  word = ((word & 0x00ff00ff00ff00ff) * 6553601) >> 16;
  return ((word & 0x0000ffff0000ffff) * 42949672960001) >> 32;
}

/// How many of `word`'s bytes are ASCII digits before the first that is not
/// (0 to 8). A byte that is no digit has its top bit set in x or in x + 0x76
/// (x = byte ^ '0', so digits are 0-9); a carry out of a byte only reaches
/// later bytes, after the first that is no digit.
inline int LeadingDigits(std::uint64_t word) {
  const std::uint64_t x = word ^ 0x3030303030303030;
  const std::uint64_t others = (x | (x + 0x7676767676767676)) & 0x8080808080808080;
  return others == 0 ? 8 : __builtin_ctzll(others) / 8;
}

/// Whether the bytes of `word` where `positions` has 0x80 are all ASCII
/// digits: LeadingDigits' test, for bytes anywhere. A carry out of a byte of
/// 0xba or more may spoil the next byte's answer, which callers who also
/// compare the word's other bytes with ASCII ones can ignore.
inline bool DigitsWhere(std::uint64_t word, std::uint64_t positions) {
  const std::uint64_t x = word ^ 0x3030303030303030;
  return ((x | (x + 0x7676767676767676)) & positions) == 0;
}

/// Whether `YYYY-MM-DD`, `sep`, `hh:mm:ss` (digits where the letters are)
/// are the 19 bytes at `p`, 8 at a time. The caller checks that they exist.
inline bool DateTimeAt(const char* p, char sep) {
#if defined(LLE_SWAR_DIGITS)
  const std::uint64_t date = Load64(p), day = Load64(p + 8), clock = Load64(p + 11);
  constexpr std::uint64_t kDashes = 0x2d00002d00000000;  // bytes 4 and 7: YYYY-MM-
  constexpr std::uint64_t kColons = 0x00003a00003a0000;  // bytes 2 and 5: hh:mm:ss
  const auto sep_byte = std::uint64_t{static_cast<unsigned char>(sep)};
  const std::uint64_t day_seps = 0x00003a0000000000 | sep_byte << 16;  // bytes 2 and 5: DD?hh:mm
  return DigitsWhere(date, 0x0080800080808080) && (date & 0xff0000ff00000000) == kDashes &&
         DigitsWhere(day, 0x8080008080008080) && (day & 0x0000ff0000ff0000) == day_seps &&
         DigitsWhere(clock, 0x8080008080008080) && (clock & 0x0000ff0000ff0000) == kColons;
#else
  static constexpr char kShape[] = "dddd-dd-dd?dd:dd:dd";
  for (int i = 0; i < 19; ++i) {
    const char want = kShape[i] == '?' ? sep : kShape[i];
    if (want == 'd' ? !(p[i] >= '0' && p[i] <= '9') : p[i] != want) return false;
  }
  return true;
#endif
}

/// Reads the run of ASCII digits at `p` (not past `end`) into `*m` (times ten
/// per digit, plus the digit; wraps beyond 19 digits, which the caller counts)
/// and returns the byte after it. Eight at a time while 8 bytes are left.
inline const char* ReadDigitRun(const char* p, const char* end, std::uint64_t* m, int* count) {
#if defined(LLE_SWAR_DIGITS)
  while (end - p >= 8) {
    const std::uint64_t word = Load64(p);
    const int k = LeadingDigits(word);
    if (k == 0) return p;
    *m = *m * kIntPowersOfTen[k] + DigitsValue(word, k);
    *count += k;
    p += k;
    if (k < 8) return p;
  }
#endif
  for (; p < end && *p >= '0' && *p <= '9'; ++p) {
    *m = *m * 10 + static_cast<std::uint64_t>(*p - '0');
    ++*count;
  }
  return p;
}

}  // namespace lle
