#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace lle {

enum class MetricType : std::uint8_t { kCounter, kGauge, kHistogram };

/// Declaration of one metric family: what the store allocates and exposes.
/// A value type shared by the map stage (which produces specs) and the store.
struct MetricSpec {
  std::string name;
  std::string help;
  MetricType type = MetricType::kCounter;
  std::vector<double> buckets;  // histograms: sorted upper bounds, +Inf implied
  std::vector<std::string> label_names;
  /// Series that exist from the start, at 0 (one empty tuple for an unlabelled metric).
  std::vector<std::vector<std::string>> initial_series;
  /// With exactly one label: values not in `initial_series` are added as they
  /// come until there are `max_series` series; later ones go to `overflow_value`.
  std::size_t max_series = 0;
  std::string overflow_value = "other";
};

/// Index of a series that the store resolves from `Update::label_value`.
inline constexpr std::uint32_t kDynamicSeries = std::numeric_limits<std::uint32_t>::max();

/// One change to one series: counters add `value`, gauges are set to it,
/// histograms observe it. A value type produced by map and applied by the store.
struct Update {
  std::uint32_t metric = 0;  // index into the spec list the store was built from
  std::uint32_t series = 0;  // index into initial_series, or kDynamicSeries
  double value = 0;
  std::string_view label_value;  // used when series == kDynamicSeries
};

}  // namespace lle
