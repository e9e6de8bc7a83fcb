#include "literal_set.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>

#include "find_bytes.h"
#include "load.h"
#include "simd_lanes.h"

namespace lle {
namespace {

bool Contains(std::string_view line, const std::string& literal) {
  return FindBytes(line, literal) != std::string_view::npos;
}

// The offset of the literal's rarest `width` consecutive bytes (ByteCommonness).
[[maybe_unused]] std::size_t RarestWindow(const std::string& literal, std::size_t width) {
  std::size_t best = 0;
  int best_rank = 1 << 30;
  for (std::size_t o = 0; o + width <= literal.size(); ++o) {
    int rank = 0;
    for (std::size_t k = 0; k < width; ++k) {
      rank += ByteCommonness(static_cast<unsigned char>(literal[o + k]));
    }
    if (rank < best_rank) {
      best_rank = rank;
      best = o;
    }
  }
  return best;
}

}  // namespace

LiteralSet::LiteralSet(std::vector<std::string> literals) : literals_(std::move(literals)) {
  const std::size_t count = std::min<std::size_t>(literals_.size(), 64);
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint64_t bit = std::uint64_t{1} << i;
    if (literals_[i].size() < 4) {
      short_ |= bit;
    } else {
      long_ |= bit;
      order.push_back(i);
    }
  }
  heads_.resize(count);
  for (const std::size_t i : order) heads_[i] = Load32(literals_[i].data());
#if defined(LLE_SIMD_LANES)
  // Literals with alike windows share a bucket (fewer stray nibbles).
  window_.resize(count);
  for (const std::size_t i : order) {
    window_[i] = static_cast<std::uint8_t>(RarestWindow(literals_[i], kWindow));
  }
  std::sort(order.begin(), order.end(), [this](std::size_t a, std::size_t b) {
    return literals_[a].compare(window_[a], kWindow, literals_[b], window_[b], kWindow) < 0;
  });
  for (std::size_t r = 0; r < order.size(); ++r) {
    const std::size_t i = order[r];
    const std::size_t bucket = r * kBuckets / order.size();
    bucket_[bucket] |= std::uint64_t{1} << i;
    for (std::size_t k = 0; k < kWindow; ++k) {
      const auto byte = static_cast<unsigned char>(literals_[i][window_[i] + k]);
      low_nibble_[k][byte & 0x0f] |= static_cast<std::uint8_t>(1u << bucket);
      high_nibble_[k][byte >> 4] |= static_cast<std::uint8_t>(1u << bucket);
    }
  }
#else
  constexpr std::size_t kMaxStride = 8;
  std::size_t shortest = SIZE_MAX;
  for (const std::size_t i : order) shortest = std::min(shortest, literals_[i].size());
  stride_ = shortest == SIZE_MAX ? 1 : std::min(shortest - 3, kMaxStride);
  for (const std::size_t i : order) {
    const std::string& literal = literals_[i];
    // An occurrence at q covers the positions q .. q + size - 4 (at least
    // stride_ of them), so the first position looked at from q is q + j for
    // some j < stride_.
    for (std::size_t j = 0; j < stride_; ++j) {
      table_[Hash(Load32(literal.data() + j))] |= std::uint64_t{1} << i;
    }
  }
#endif
}

std::uint64_t LiteralSet::Find(std::string_view line) const {
  std::uint64_t found = long_ != 0 && line.size() >= 4 ? FindLong(line) : 0;
  for (std::uint64_t rest = short_; rest != 0; rest &= rest - 1) {
    const int i = __builtin_ctzll(rest);
    if (Contains(line, literals_[static_cast<std::size_t>(i)])) found |= std::uint64_t{1} << i;
  }
  return found;
}

#if defined(LLE_SIMD_LANES)

std::uint64_t LiteralSet::FindLong(std::string_view line) const {
  using V = Lanes::V;
  constexpr std::size_t kWidth = Lanes::kWidth;
  const V low0 = Lanes::Table(low_nibble_[0]), high0 = Lanes::Table(high_nibble_[0]);
  const V low1 = Lanes::Table(low_nibble_[1]), high1 = Lanes::Table(high_nibble_[1]);
  const V low2 = Lanes::Table(low_nibble_[2]), high2 = Lanes::Table(high_nibble_[2]);
  const V low3 = Lanes::Table(low_nibble_[3]), high3 = Lanes::Table(high_nibble_[3]);
  // Bucket bits of the windows that start at p .. p + kWidth - 1.
  const auto scan = [&](const char* p) {
    const V b0 = Lanes::Load(p), b1 = Lanes::Load(p + 1), b2 = Lanes::Load(p + 2),
            b3 = Lanes::Load(p + 3);
    const V m0 =
        Lanes::And(Lanes::Lookup(low0, Lanes::Low(b0)), Lanes::Lookup(high0, Lanes::High(b0)));
    const V m1 =
        Lanes::And(Lanes::Lookup(low1, Lanes::Low(b1)), Lanes::Lookup(high1, Lanes::High(b1)));
    const V m2 =
        Lanes::And(Lanes::Lookup(low2, Lanes::Low(b2)), Lanes::Lookup(high2, Lanes::High(b2)));
    const V m3 =
        Lanes::And(Lanes::Lookup(low3, Lanes::Low(b3)), Lanes::Lookup(high3, Lanes::High(b3)));
    return Lanes::And(Lanes::And(m0, m1), Lanes::And(m2, m3));
  };
  std::uint64_t found = 0;
  std::uint64_t wanted = long_;
  alignas(32) std::uint8_t buckets[kWidth];
  const auto confirm = [&](V hits, std::uint32_t mask, std::size_t p) {
    Lanes::Store(buckets, hits);
    for (; mask != 0; mask &= mask - 1) {
      const auto j = static_cast<std::size_t>(__builtin_ctz(mask));
      found |= ConfirmWindow(buckets[j], line, p + j, wanted);
    }
    wanted = long_ & ~found;
  };
  const char* const data = line.data();
  const std::size_t n = line.size();
  // Windows start at 0 .. n - kWindow; a block reads kWidth + kWindow - 1 bytes.
  std::size_t p = 0;
  for (; p + kWidth + kWindow - 1 <= n; p += kWidth) {
    const V hits = scan(data + p);
    const std::uint32_t mask = Lanes::NonZero(hits);
    if (__builtin_expect(mask != 0, 0)) {
      confirm(hits, mask, p);
      if (wanted == 0) return found;
    }
  }
  if (p + kWindow <= n) {
    // The last windows, from a copy padded with zeros.
    char tail[kWidth + kWindow - 1] = {};
    std::memcpy(tail, data + p, n - p);
    const V hits = scan(tail);
    const std::size_t windows = n - p - (kWindow - 1);  // under kWidth
    const std::uint32_t mask = Lanes::NonZero(hits) & ((std::uint32_t{1} << windows) - 1);
    if (mask != 0) confirm(hits, mask, p);
  }
  return found;
}

std::uint64_t LiteralSet::ConfirmWindow(unsigned buckets, std::string_view line, std::size_t pos,
                                        std::uint64_t wanted) const {
  std::uint64_t found = 0;
  for (; buckets != 0; buckets &= buckets - 1) {
    for (std::uint64_t in = bucket_[__builtin_ctz(buckets)] & wanted; in != 0; in &= in - 1) {
      const auto i = static_cast<std::size_t>(__builtin_ctzll(in));
      const std::string& literal = literals_[i];
      if (pos < window_[i]) continue;
      const std::size_t q = pos - window_[i];
      if (literal.size() <= line.size() - q && Load32(line.data() + q) == heads_[i] &&
          std::memcmp(line.data() + q, literal.data(), literal.size()) == 0) {
        found |= std::uint64_t{1} << i;
      }
    }
  }
  return found;
}

#else  // no SIMD: every stride_-th position, hashed

std::uint64_t LiteralSet::FindLong(std::string_view line) const {
  // The hot loop: one hash and one table load per position looked at;
  // candidates (rare) are checked out of line.
  std::uint64_t found = 0;
  const char* const begin = line.data();
  const char* const last = begin + line.size() - 4;
  const std::uint64_t* const table = table_.data();
  const std::size_t stride = stride_;
  std::uint64_t wanted = long_;
  for (const char* p = begin; p <= last; p += stride) {
    const std::uint64_t candidates = table[Hash(Load32(p))] & wanted;
    if (__builtin_expect(candidates != 0, 0)) {
      found |= Confirm(candidates, line, static_cast<std::size_t>(p - begin));
      wanted = long_ & ~found;
    }
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

#endif

bool LiteralSet::Has(std::size_t i, std::uint64_t found, std::string_view line) const {
  return i < 64 ? (found >> i & 1) != 0 : Contains(line, literals_[i]);
}

}  // namespace lle
