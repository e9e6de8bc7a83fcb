#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lle {

/// Which of a set of literals occur in a line, in one pass over it instead of
/// one memmem per literal. Only every `stride`-th position of the line is
/// looked at (stride = the shortest literal's length - 3, at most 8): its 4
/// bytes are hashed into a table of every 4 bytes that start within the first
/// `stride` bytes of a literal, so that any occurrence of a literal shows at
/// one of the positions looked at; only a hit is compared in full. Literals
/// shorter than 4 bytes, and those beyond the 64th, are searched one by one (FindBytes).
/// Immutable after construction: safe to share between threads.
class LiteralSet {
 public:
  explicit LiteralSet(std::vector<std::string> literals);

  /// Bit i (i < 64): literal i occurs in `line`.
  std::uint64_t Find(std::string_view line) const;
  /// Literal i occurs in `line`, given Find's result for it.
  bool Has(std::size_t i, std::uint64_t found, std::string_view line) const;

 private:
  static constexpr int kHashBits = 12;
  // Which of `candidates` occur in `line` at position p - j, j < stride_.
  [[gnu::noinline]] std::uint64_t Confirm(std::uint64_t candidates, std::string_view line,
                                          std::size_t p) const;
  static std::uint32_t Hash(std::uint32_t word) { return (word * 0x9E3779B1u) >> (32 - kHashBits); }

  std::vector<std::string> literals_;
  std::vector<std::uint32_t> heads_;  // each literal's first 4 bytes (if it has 4)
  // 4 bytes' hash → the literals that have them at an offset under stride_.
  std::array<std::uint64_t, std::size_t{1} << kHashBits> table_{};
  std::uint64_t short_ = 0;  // literals under 4 bytes
  std::size_t stride_ = 1;
};

}  // namespace lle
