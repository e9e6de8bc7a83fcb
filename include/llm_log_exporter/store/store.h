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
  std::uint32_t ResolveSeries(std::uint32_t metric, std::string_view label_value);

  Store& store_;
  std::uint64_t stamp_ = 1;
  std::vector<std::atomic<std::uint64_t>> cells_;       // counts, or doubles as bits
  std::vector<std::vector<std::string>> known_labels_;  // per metric: cache of the series table
};

/// All metric series of one spec list: per-writer Shards merged at scrape.
/// Caps dynamic label values and counts refusals in
/// llm_log_exporter_label_overflow_total{metric}. Thread-safe.
class Store : public prometheus::Collectable {
 public:
  explicit Store(std::vector<MetricSpec> specs);
  ~Store() override;

  /// A new writer's shard, owned by the store.
  Shard* AddShard();
  /// The merged state of every shard, one family per spec plus the overflow counter.
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  friend class Shard;
  struct Metric {
    MetricSpec spec;
    std::size_t first_cell = 0;
    std::size_t cells_per_series = 0;
    std::size_t series_capacity = 0;  // max_series + overflow series, or initial size
    bool dynamic = false;
    // Label values of series [0, size); appended under `mutex_` only.
    std::vector<std::string> labels;
    std::atomic<std::size_t> size{0};
    std::atomic<bool> overflow_used{false};
  };

  std::vector<std::unique_ptr<Metric>> metrics_;
  std::size_t num_cells_ = 0;
  std::size_t overflow_metric_ = 0;  // index of llm_log_exporter_label_overflow_total
  mutable std::mutex mutex_;         // guards shards_ and appends to label tables
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace lle
