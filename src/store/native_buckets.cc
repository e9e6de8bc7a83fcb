#include "llm_log_exporter/store/native_buckets.h"

#include <algorithm>
#include <array>
#include <limits>
#include <vector>

namespace lle {
namespace {

// For schema s > 0: the 2^s bucket bounds within an octave as fractions in
// [0.5, 1), bounds[i] = 2^(i / 2^s - 1), so that a value frac * 2^exp (frexp)
// is in bucket (exp - 1) * 2^s + (the first i with bounds[i] >= frac).
const std::vector<double>& OctaveBounds(int schema) {
  static const std::array<std::vector<double>, kMaxNativeSchema + 1> bounds = [] {
    std::array<std::vector<double>, kMaxNativeSchema + 1> b;
    for (int s = 1; s <= kMaxNativeSchema; ++s) {
      const int n = 1 << s;
      for (int i = 0; i < n; ++i) b[s].push_back(std::ldexp(std::exp2(double(i) / n), -1));
    }
    return b;
  }();
  return bounds[schema];
}

// Bucket `index` one schema lower: buckets 2j - 1 and 2j make bucket j.
std::int32_t Halved(std::int32_t index) { return static_cast<std::int32_t>((index + 1) >> 1); }

// One schema lower: adjacent buckets that merge are neighbours in the sorted list.
void HalveResolution(std::vector<NativeBucket>* buckets) {
  std::size_t out = 0;
  for (std::size_t i = 0; i < buckets->size(); ++i) {
    const NativeBucket b{Halved((*buckets)[i].index), (*buckets)[i].count};
    if (out > 0 && (*buckets)[out - 1].index == b.index) {
      (*buckets)[out - 1].count += b.count;
    } else {
      (*buckets)[out++] = b;
    }
  }
  buckets->resize(out);
}

void Reduce(NativeHistogram* h, int schema) {
  for (; h->schema > schema; --h->schema) {
    HalveResolution(&h->positive);
    HalveResolution(&h->negative);
  }
}

void Limit(NativeHistogram* h, std::uint32_t max_buckets) {
  while (h->positive.size() + h->negative.size() > max_buckets && h->schema > kMinNativeSchema) {
    Reduce(h, h->schema - 1);
  }
}

void Add(std::vector<NativeBucket>* buckets, std::int32_t index, std::uint64_t count) {
  const auto it =
      std::lower_bound(buckets->begin(), buckets->end(), index,
                       [](const NativeBucket& b, std::int32_t i) { return b.index < i; });
  if (it != buckets->end() && it->index == index) {
    it->count += count;
  } else {
    buckets->insert(it, NativeBucket{index, count});
  }
}

}  // namespace

std::int32_t NativeBucketIndex(double magnitude, int schema) {
  int exp = 0;
  const double frac =
      std::frexp(std::min(magnitude, std::numeric_limits<double>::max()), &exp);  // [0.5, 1)
  if (schema > 0) {
    const std::vector<double>& bounds = OctaveBounds(schema);
    const auto i = std::lower_bound(bounds.begin(), bounds.end(), frac) - bounds.begin();
    return static_cast<std::int32_t>(i + static_cast<std::ptrdiff_t>(exp - 1) * (1 << schema));
  }
  // Powers of two are bounds: 2^(exp-1) is the top of bucket exp - 1 at schema 0.
  const int key = frac == 0.5 ? exp - 1 : exp;
  return static_cast<std::int32_t>((key + (1 << -schema) - 1) >> -schema);  // ceil(key / 2^-schema)
}

NativeHistogram EmptyNative(const NativeSpec& spec) {
  NativeHistogram h;
  h.schema = spec.schema;
  h.zero_threshold = spec.zero_threshold;
  return h;
}

void ObserveNative(NativeHistogram* h, double value, std::uint64_t times,
                   std::uint32_t max_buckets) {
  h->count += times;
  if (std::isnan(value)) return;
  const double magnitude = std::fabs(value);
  if (magnitude <= h->zero_threshold) {
    h->zero_count += times;
    return;
  }
  Add(value > 0 ? &h->positive : &h->negative, NativeBucketIndex(magnitude, h->schema), times);
  Limit(h, max_buckets);
}

void MergeNative(NativeHistogram* into, const NativeHistogram& from, std::uint32_t max_buckets) {
  if (from.schema < into->schema) Reduce(into, from.schema);
  NativeHistogram reduced;
  const NativeHistogram* add = &from;
  if (from.schema > into->schema) {
    reduced = from;
    Reduce(&reduced, into->schema);
    add = &reduced;
  }
  into->count += add->count;
  into->zero_count += add->zero_count;
  for (const NativeBucket& b : add->positive) Add(&into->positive, b.index, b.count);
  for (const NativeBucket& b : add->negative) Add(&into->negative, b.index, b.count);
  Limit(into, max_buckets);
}

}  // namespace lle
