#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lle {

/// Which of a set of literals occur in a line, in one pass over it instead of
/// one memmem per literal. Literals of 4 bytes or more are found by their
/// rarest 4 bytes (the "window"), grouped into 8 buckets:
///  - with SSSE3 or AVX2 (the default x86-64 builds), 16 or 32 positions at
///    a time: each window byte's two nibbles index 16-entry tables of bucket
///    bits (pshufb, as Hyperscan's Teddy does), and a position whose 3 bytes
///    all allow a bucket is checked in full against that bucket's literals;
///  - without (LLE_SIMD=off), every `stride`-th position's 4 bytes are hashed
///    into a table of every 4 bytes that start within a literal's first
///    `stride` bytes (stride = the shortest literal's length - 3, at most 8).
/// Literals shorter than 4 bytes, and those beyond the 64th, are searched one
/// by one (FindBytes). Immutable after construction: safe to share between threads.
class LiteralSet {
 public:
  explicit LiteralSet(std::vector<std::string> literals);

  /// Bit i (i < 64): literal i occurs in `line`.
  std::uint64_t Find(std::string_view line) const;
  /// Literal i occurs in `line`, given Find's result for it.
  bool Has(std::size_t i, std::uint64_t found, std::string_view line) const;

 private:
  static constexpr int kHashBits = 12;
  static constexpr std::size_t kWindow = 4;
  static constexpr std::size_t kBuckets = 8;
  // SIMD: the literals of `buckets` (among `wanted`) whose window starts at
  // `pos`. No SIMD: which of `candidates` occur at position p - j, j < stride_.
  // Each build defines the one it uses.
  [[gnu::noinline]] std::uint64_t ConfirmWindow(unsigned buckets, std::string_view line,
                                                std::size_t pos, std::uint64_t wanted) const;
  [[gnu::noinline]] std::uint64_t Confirm(std::uint64_t candidates, std::string_view line,
                                          std::size_t p) const;
  std::uint64_t FindLong(std::string_view line) const;
  static std::uint32_t Hash(std::uint32_t word) { return (word * 0x9E3779B1u) >> (32 - kHashBits); }

  std::vector<std::string> literals_;
  std::uint64_t short_ = 0;  // literals under 4 bytes
  std::uint64_t long_ = 0;   // the others among the first 64
  // SIMD: per window byte k, bucket bits by low and by high nibble.
  alignas(16) std::uint8_t low_nibble_[kWindow][16] = {};
  alignas(16) std::uint8_t high_nibble_[kWindow][16] = {};
  std::array<std::uint64_t, kBuckets> bucket_ = {};  // literals in each bucket
  std::vector<std::uint8_t> window_;                 // each literal's window offset
  // Each literal's first 4 bytes (checked before the rest). No SIMD: 4 bytes'
  // hash → the literals that have them at an offset under stride_.
  std::vector<std::uint32_t> heads_;
  std::array<std::uint64_t, std::size_t{1} << kHashBits> table_{};
  std::size_t stride_ = 1;
};

}  // namespace lle
