#pragma once

// The byte vectors of the parse stage's table lookups (private to src/parse/;
// include only from files built with LLE_SIMD's flags, as CMakeLists.txt
// lists them): 32 bytes with AVX2, 16 with SSSE3, none without
// (LLE_SIMD_LANES undefined; callers keep a byte-at-a-time path).

#include <cstddef>
#include <cstdint>

#if defined(__AVX2__) || defined(__SSSE3__)
#include <immintrin.h>
#define LLE_SIMD_LANES 1
#endif

namespace lle {

#if defined(__AVX2__)
/// 32 bytes at a time; a 16-entry table repeats in both 128-bit lanes, as
/// pshufb looks up within a lane.
struct Lanes {
  using V = __m256i;
  static constexpr std::size_t kWidth = 32;
  static V Load(const char* p) { return _mm256_loadu_si256(reinterpret_cast<const V*>(p)); }
  /// 16 bytes at `t`, aligned to 16.
  static V Table(const std::uint8_t* t) {
    return _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(t)));
  }
  static V Low(V x) { return _mm256_and_si256(x, _mm256_set1_epi8(0x0f)); }
  static V High(V x) { return _mm256_and_si256(_mm256_srli_epi16(x, 4), _mm256_set1_epi8(0x0f)); }
  /// table[index] for each byte (index 0..15).
  static V Lookup(V table, V index) { return _mm256_shuffle_epi8(table, index); }
  static V And(V a, V b) { return _mm256_and_si256(a, b); }
  static V Or(V a, V b) { return _mm256_or_si256(a, b); }
  /// Bit i: byte i is zero.
  static std::uint32_t Zero(V x) {
    return static_cast<std::uint32_t>(
        _mm256_movemask_epi8(_mm256_cmpeq_epi8(x, _mm256_setzero_si256())));
  }
  /// Bit i: byte i is not zero.
  static std::uint32_t NonZero(V x) { return ~Zero(x); }
  static void Store(std::uint8_t* out, V x) { _mm256_storeu_si256(reinterpret_cast<V*>(out), x); }
};
#elif defined(__SSSE3__)
struct Lanes {
  using V = __m128i;
  static constexpr std::size_t kWidth = 16;
  static V Load(const char* p) { return _mm_loadu_si128(reinterpret_cast<const V*>(p)); }
  static V Table(const std::uint8_t* t) { return _mm_load_si128(reinterpret_cast<const V*>(t)); }
  static V Low(V x) { return _mm_and_si128(x, _mm_set1_epi8(0x0f)); }
  static V High(V x) { return _mm_and_si128(_mm_srli_epi16(x, 4), _mm_set1_epi8(0x0f)); }
  static V Lookup(V table, V index) { return _mm_shuffle_epi8(table, index); }
  static V And(V a, V b) { return _mm_and_si128(a, b); }
  static V Or(V a, V b) { return _mm_or_si128(a, b); }
  static std::uint32_t Zero(V x) {
    return static_cast<std::uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_setzero_si128())));
  }
  static std::uint32_t NonZero(V x) { return ~Zero(x) & 0xffffu; }
  static void Store(std::uint8_t* out, V x) { _mm_storeu_si128(reinterpret_cast<V*>(out), x); }
};
#endif

}  // namespace lle
