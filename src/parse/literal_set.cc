#include "literal_set.h"

#include <cstring>
#include <utility>

namespace lle {
namespace {

std::uint32_t Load32(const char* p) {
  std::uint32_t word;
  std::memcpy(&word, p, sizeof word);
  return word;
}

bool Contains(std::string_view line, const std::string& literal) {
  return line.size() >= literal.size() &&
         memmem(line.data(), line.size(), literal.data(), literal.size()) != nullptr;
}

}  // namespace

LiteralSet::LiteralSet(std::vector<std::string> literals) : literals_(std::move(literals)) {
  for (std::size_t i = 0; i < literals_.size() && i < 64; ++i) {
    const std::uint64_t bit = std::uint64_t{1} << i;
    if (literals_[i].size() < 4) {
      short_ |= bit;
    } else {
      table_[Hash(Load32(literals_[i].data()))] |= bit;
    }
  }
}

std::uint64_t LiteralSet::Find(std::string_view line) const {
  std::uint64_t found = 0;
  const char* const data = line.data();
  const std::size_t n = line.size();
  for (std::size_t p = 0; p + 4 <= n; ++p) {
    std::uint64_t candidates = table_[Hash(Load32(data + p))] & ~found;
    while (candidates != 0) {
      const int i = __builtin_ctzll(candidates);
      candidates &= candidates - 1;
      const std::string& literal = literals_[static_cast<std::size_t>(i)];
      if (literal.size() <= n - p && std::memcmp(data + p, literal.data(), literal.size()) == 0) {
        found |= std::uint64_t{1} << i;
      }
    }
  }
  for (std::uint64_t rest = short_; rest != 0; rest &= rest - 1) {
    const int i = __builtin_ctzll(rest);
    if (Contains(line, literals_[static_cast<std::size_t>(i)])) found |= std::uint64_t{1} << i;
  }
  return found;
}

bool LiteralSet::Has(std::size_t i, std::uint64_t found, std::string_view line) const {
  return i < 64 ? (found >> i & 1) != 0 : Contains(line, literals_[i]);
}

}  // namespace lle
