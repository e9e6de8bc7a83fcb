#pragma once

#include <cmath>
#include <cstdint>

#include "llm_log_exporter/core/metric_spec.h"
#include "llm_log_exporter/exposition/family.h"

namespace lle {

/// Native histogram buckets (the Prometheus native histogram spec, as
/// client_golang computes them). Pure functions; a NativeHistogram is plain
/// data, locked by whoever shares it.

/// The largest schema whose bucket growth 2^(2^-schema) is at most `factor`
/// (> 1), within [kMinNativeSchema, kMaxNativeSchema]: client_golang's
/// NativeHistogramBucketFactor (1.1 gives schema 3, growth 1.0905).
inline int NativeSchemaForFactor(double factor) {
  const double floor = std::floor(std::log2(std::log2(factor)));
  if (floor <= -kMaxNativeSchema) return kMaxNativeSchema;
  if (floor >= -kMinNativeSchema) return kMinNativeSchema;
  return -static_cast<int>(floor);
}

/// Buckets of every finite double but the zero bucket's at schema -4: indices
/// -67 to 64, either sign.
inline constexpr std::uint32_t kMaxNativeBucketsAtMinSchema = 264;

/// The index i of the bucket (base^(i-1), base^i] holding `magnitude` (> 0;
/// +Inf counts as the largest double) at `schema`.
std::int32_t NativeBucketIndex(double magnitude, int schema);

/// A histogram of `spec`'s schema and zero threshold, with no observation.
NativeHistogram EmptyNative(const NativeSpec& spec);

/// Counts `value` `times` times in `h` (a sampled line stands for several
/// requests): NaN in `count` only (as client_golang does), values
/// within the zero threshold in the zero bucket. Halves the resolution (schema
/// - 1, merging pairs of buckets) while `h` has more than `max_buckets` and
/// its schema is above kMinNativeSchema: at most max(max_buckets,
/// kMaxNativeBucketsAtMinSchema) buckets.
void ObserveNative(NativeHistogram* h, double value, std::uint64_t times,
                   std::uint32_t max_buckets);

/// Adds `from` (same zero threshold, any schema) to `into`: both at the lower
/// of their schemas, then reduced as ObserveNative does.
void MergeNative(NativeHistogram* into, const NativeHistogram& from, std::uint32_t max_buckets);

}  // namespace lle
