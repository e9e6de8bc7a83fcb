#pragma once

#include <cstdint>
#include <cstring>

// Unaligned loads of the bytes a line's scanners compare a word at a time
// (private to src/parse/). In memory order on a little-endian machine: byte
// 0 is the first character.
namespace lle {

inline std::uint32_t Load32(const char* p) {
  std::uint32_t word;
  std::memcpy(&word, p, sizeof word);
  return word;
}

inline std::uint64_t Load64(const char* p) {
  std::uint64_t word;
  std::memcpy(&word, p, sizeof word);
  return word;
}

}  // namespace lle
