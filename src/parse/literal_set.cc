#include "literal_set.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>

#include "find_bytes.h"

namespace lle {
namespace {

std::uint32_t Load32(const char* p) {
  std::uint32_t word;
  std::memcpy(&word, p, sizeof word);
  return word;
}

bool Contains(std::string_view line, const std::string& literal) {
  return FindBytes(line, literal) != std::string_view::npos;
}

}  // namespace

LiteralSet::LiteralSet(std::vector<std::string> literals) : literals_(std::move(literals)) {
  constexpr std::size_t kMaxStride = 8;
  std::size_t shortest = SIZE_MAX;
  for (std::size_t i = 0; i < literals_.size() && i < 64; ++i) {
    if (literals_[i].size() >= 4) shortest = std::min(shortest, literals_[i].size());
  }
  stride_ = shortest == SIZE_MAX ? 1 : std::min(shortest - 3, kMaxStride);
  heads_.resize(literals_.size());
  for (std::size_t i = 0; i < literals_.size() && i < 64; ++i) {
    const std::uint64_t bit = std::uint64_t{1} << i;
    const std::string& literal = literals_[i];
    if (literal.size() < 4) {
      short_ |= bit;
      continue;
    }
    heads_[i] = Load32(literal.data());
    // An occurrence at q covers the positions q .. q + size - 4 (at least
    // stride_ of them), so the first position looked at from q is q + j for
    // some j < stride_.
    for (std::size_t j = 0; j < stride_; ++j) table_[Hash(Load32(literal.data() + j))] |= bit;
  }
}

std::uint64_t LiteralSet::Find(std::string_view line) const {
  std::uint64_t found = 0;
  if (line.size() >= 4) {
    // The hot loop: one hash and one table load per position looked at;
    // candidates (rare) are checked out of line.
    const char* const begin = line.data();
    const char* const last = begin + line.size() - 4;
    const std::uint64_t* const table = table_.data();
    const std::size_t stride = stride_;
    std::uint64_t wanted = ~std::uint64_t{0};
    for (const char* p = begin; p <= last; p += stride) {
      const std::uint64_t candidates = table[Hash(Load32(p))] & wanted;
      if (__builtin_expect(candidates != 0, 0)) {
        found |= Confirm(candidates, line, static_cast<std::size_t>(p - begin));
        wanted = ~found;
      }
    }
  }
  for (std::uint64_t rest = short_; rest != 0; rest &= rest - 1) {
    const int i = __builtin_ctzll(rest);
    if (Contains(line, literals_[static_cast<std::size_t>(i)])) found |= std::uint64_t{1} << i;
  }
  return found;
}

std::uint64_t LiteralSet::Confirm(std::uint64_t candidates, std::string_view line,
                                  std::size_t p) const {
  std::uint64_t found = 0;
  const char* const data = line.data();
  const std::size_t n = line.size();
  for (; candidates != 0; candidates &= candidates - 1) {
    const auto i = static_cast<std::size_t>(__builtin_ctzll(candidates));
    const std::string& literal = literals_[i];
    for (std::size_t j = 0; j < stride_ && j <= p; ++j) {
      const std::size_t q = p - j;
      if (literal.size() <= n - q && Load32(data + q) == heads_[i] &&
          std::memcmp(data + q, literal.data(), literal.size()) == 0) {
        found |= std::uint64_t{1} << i;
        break;
      }
    }
  }
  return found;
}

bool LiteralSet::Has(std::size_t i, std::uint64_t found, std::string_view line) const {
  return i < 64 ? (found >> i & 1) != 0 : Contains(line, literals_[i]);
}

}  // namespace lle
