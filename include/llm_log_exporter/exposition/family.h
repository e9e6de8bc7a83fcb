#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "llm_log_exporter/core/metric_spec.h"

namespace lle {

/// The exposition model: what a scrape shows, built by the store and the
/// collectors and written by a serializer (text_format.h). Plain values,
/// owned by whoever holds them; no synchronisation.

struct Label {
  std::string name;
  std::string value;
};

/// An exemplar's one label. Views: whoever makes an Exemplar keeps its text
/// for as long as the Exemplar (the store keeps a scrape's exemplars and
/// their text in one block, which its pointers share).
struct ExemplarLabel {
  std::string_view name;
  std::string_view value;
};

/// The request behind a value (OpenMetrics exemplar): one label, the value
/// observed and when, in seconds since the epoch. The label's name and value
/// hold at most kMaxExemplarRunes code points together, as the spec requires.
struct Exemplar {
  ExemplarLabel label;
  double value = 0;
  double timestamp_seconds = 0;
};

/// OpenMetrics 1.0: "The combined length of the label names and values of an
/// Exemplar's LabelSet MUST NOT exceed 128 UTF-8 character code points."
inline constexpr std::size_t kMaxExemplarRunes = 128;

struct Bucket {
  std::uint64_t cumulative_count = 0;
  double upper_bound = 0;
  /// The latest observation in this bucket (not cumulative), if one carried a trace.
  std::shared_ptr<const Exemplar> exemplar;
};

/// One native bucket: its index (at the histogram's schema) and its count.
struct NativeBucket {
  std::int32_t index = 0;
  std::uint64_t count = 0;
};

/// A native histogram's buckets (Prometheus' sparse, exponential buckets):
/// bucket i covers (base^(i-1), base^i], base = 2^(2^-schema), of |value|
/// on either side of the zero bucket [-zero_threshold, zero_threshold].
struct NativeHistogram {
  std::int32_t schema = 0;
  double zero_threshold = 0;
  std::uint64_t count = 0;  // observations: the zero bucket's, the others', and NaNs
  std::uint64_t zero_count = 0;
  std::vector<NativeBucket> positive;  // ascending index, counts > 0
  std::vector<NativeBucket> negative;  // by |value|: ascending index, counts > 0
};

/// One series of a family (its label set) and its value by the family's type.
struct Series {
  std::vector<Label> labels;
  double value = 0;  // counter, gauge
  // Histogram: buckets ascending, the last +Inf (count equals its cumulative count).
  std::uint64_t count = 0;
  double sum = 0;
  std::vector<Bucket> buckets;
  /// Histograms with native buckets (NativeSpec::enabled): those too.
  std::optional<NativeHistogram> native;
  /// Counters: the latest increment that carried a trace.
  std::shared_ptr<const Exemplar> exemplar;
};

/// One metric family. A counter's name is its series' name, `_total` included.
struct Family {
  std::string name;
  std::string help;
  MetricType type = MetricType::kCounter;
  std::vector<Series> series;
};

}  // namespace lle
