#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "llm_log_exporter/core/metric_spec.h"

namespace lle {

class Store;

/// The aggregates written by one thread: plain cells, no lock and no allocation
/// per update. Owned by its Store; use from a single writer thread only (the
/// store reads it concurrently at scrape time).
class Shard {
 public:
  /// Applies one update. Never throws; updates to unknown metrics are ignored.
  void Apply(const Update& update);
  /// Orders gauge writes across shards: the latest stamp wins at scrape (e.g. ns of wall time).
  void SetStamp(std::uint64_t stamp) { stamp_ = stamp; }

 private:
  friend class Store;
  explicit Shard(Store& store);
  // The series of `labels` (one per label of `metric`), counting refusals.
  std::size_t ResolveSeries(std::uint32_t metric, const std::string_view* labels);
  std::size_t ResolveValue(std::uint32_t metric, std::size_t label, std::string_view value,
                           bool* overflow);
  void Write(std::uint32_t metric, std::size_t series, double value);

  Store& store_;
  std::uint64_t stamp_ = 1;
  std::vector<std::atomic<std::uint64_t>> cells_;  // counts, or doubles as bits
  // Per metric and label: this shard's cache of the store's table of values.
  std::vector<std::vector<std::vector<std::string>>> known_;
};

/// All metric series of one spec list: per-writer Shards merged at scrape.
/// Caps label values and, when any metric is dynamic, counts refusals in
/// llm_log_exporter_label_overflow_total{metric}. Thread-safe.
class Store : public prometheus::Collectable {
 public:
  explicit Store(std::vector<MetricSpec> specs);
  ~Store() override;

  /// A new writer's shard, owned by the store.
  Shard* AddShard();
  /// The merged state of every shard, one family per spec plus the overflow counter.
  std::vector<prometheus::MetricFamily> Collect() const override;
  /// Adds the series of `old`'s metrics that have a namesake here of the same
  /// type, gauge mode, labels and buckets (a reload keeps their values). The
  /// caller ensures that nothing writes to `old` any more.
  void Absorb(const Store& old);

 private:
  friend class Shard;
  struct Label {
    LabelSpec spec;
    std::size_t radix = 1;  // max_values, plus the overflow value
    // Values [0, size) of this label; appended under `mutex_` only.
    std::vector<std::string> values;
    std::atomic<std::size_t> size{0};
  };
  struct Metric {
    MetricSpec spec;
    std::vector<std::unique_ptr<Label>> labels;
    std::size_t first_cell = 0;
    std::size_t cells_per_series = 0;
    std::size_t series_capacity = 1;              // the product of the labels' radixes
    std::unique_ptr<std::atomic<bool>[]> exists;  // per series: shown once written
    bool labelled = false;                        // else the one series exists from the start
    // Update::series (an index into the combinations of initial values) → series.
    std::vector<std::uint32_t> initial_series;
    std::size_t overflow_series = 0;  // index into the overflow counter's series
  };
  // The label values of series `s` of `m`; the caller holds mutex_ (tables grow under it).
  static std::vector<std::string_view> SeriesLabels(const Metric& m, std::size_t s);
  // Series index of `old`'s series `s` here, or false if it has no place here.
  bool Translate(const Metric& old, std::size_t s, std::size_t metric, Shard& shard,
                 std::size_t* out);
  std::uint64_t Cell(const Metric& m, std::size_t s, std::size_t i) const;  // merged
  bool GaugeValue(const Metric& m, std::size_t s, double* value, std::uint64_t* stamp) const;

  std::vector<std::unique_ptr<Metric>> metrics_;
  std::size_t num_cells_ = 0;
  std::size_t overflow_metric_ = SIZE_MAX;  // index of the overflow counter, if any
  mutable std::mutex mutex_;                // guards shards_ and appends to label tables
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace lle
