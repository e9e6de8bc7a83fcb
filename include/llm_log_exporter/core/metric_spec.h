#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace lle {

enum class MetricType : std::uint8_t { kCounter, kGauge, kHistogram };

/// How a gauge combines the values it is given.
enum class GaugeMode : std::uint8_t {
  kSet,  // the latest value wins
  kMax,  // the largest value ever seen
  kAdd,  // the sum of all values (may go down)
};

/// One label of a metric family and the values it may take.
struct LabelSpec {
  std::string name;
  /// Values that exist from the start (their series are created at 0).
  std::vector<std::string> values;
  /// At most this many distinct values (`values` included): later ones, and
  /// values over 128 bytes, go to `overflow`. Equal to values.size(): an allowlist.
  std::size_t max_values = 0;
  std::string overflow = "other";
};

/// A histogram's native (sparse, exponential) buckets, as client_golang's
/// NativeHistogram* options: bucket i covers (base^(i-1), base^i], base =
/// 2^(2^-schema); values within zero_threshold of 0 count in the zero bucket.
/// Each series starts at `schema` and, in each writer's copy, halves its
/// resolution (schema - 1) whenever it would hold more than max_buckets buckets.
struct NativeSpec {
  bool enabled = false;
  std::int8_t schema = 3;            // kMinNativeSchema..kMaxNativeSchema
  double zero_threshold = 0x1p-128;  // client_golang's default
  std::uint32_t max_buckets = 160;   // positive and negative together
  bool operator==(const NativeSpec& o) const {
    return enabled == o.enabled && schema == o.schema && zero_threshold == o.zero_threshold &&
           max_buckets == o.max_buckets;
  }
  bool operator!=(const NativeSpec& o) const { return !(*this == o); }
};

inline constexpr int kMinNativeSchema = -4;
inline constexpr int kMaxNativeSchema = 8;

/// Declaration of one metric family: what the store allocates and exposes.
/// A value type shared by the map stage (which produces specs) and the store.
/// The initial series are every combination of the labels' `values` (one
/// unlabelled series without labels).
struct MetricSpec {
  std::string name;
  std::string help;
  MetricType type = MetricType::kCounter;
  GaugeMode gauge_mode = GaugeMode::kSet;
  std::vector<double> buckets;  // histograms: sorted upper bounds, +Inf implied
  NativeSpec native;            // histograms: native buckets beside `buckets`
  std::vector<LabelSpec> labels;
  /// Updates name their label values (kDynamicSeries): the store counts those
  /// sent to an overflow value in llm_log_exporter_label_overflow_total{metric}.
  bool dynamic = false;
  /// Gauges: only the series written last is shown (an info metric whose
  /// label value changes, e.g. the hash of the system prompt in use).
  bool latest_series_only = false;
};

/// A label that is an allowlist of `values`, all created at 0.
inline LabelSpec FixedLabel(std::string name, std::vector<std::string> values) {
  LabelSpec label{std::move(name), std::move(values), 0, "other"};
  label.max_values = label.values.size();
  return label;
}

inline constexpr std::size_t kMaxLabels = 4;

/// `Update::series` when the store resolves the series from `Update::labels`.
inline constexpr std::uint32_t kDynamicSeries = std::numeric_limits<std::uint32_t>::max();

/// One change to one series: counters add `value`, gauges combine it by their
/// mode, histograms observe it. A value type produced by map and applied by the store.
struct Update {
  std::uint32_t metric = 0;  // index into the spec list the store was built from
  /// Index into the initial series (in the order of the labels' values, the
  /// last label varying fastest), or kDynamicSeries.
  std::uint32_t series = 0;
  double value = 0;
  /// With kDynamicSeries: one value per label of the metric, owned by the
  /// producer and valid until the update is applied. Out of line, so that an
  /// update stays 24 bytes: a line makes a dozen of them.
  const std::string_view* labels = nullptr;
};

}  // namespace lle
