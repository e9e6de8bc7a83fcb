#include "llm_log_exporter/store/store.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

namespace lle {
namespace {

// Label values longer than this go to the overflow series: a label is an
// identifier, and a runaway value (a message in the status field) must not
// bloat every scrape.
constexpr std::size_t kMaxLabelValueBytes = 128;

double ToDouble(std::uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}
std::uint64_t ToBits(double d) {
  std::uint64_t bits;
  std::memcpy(&bits, &d, sizeof bits);
  return bits;
}

// Single writer per cell: a relaxed load + store is enough (no RMW needed), and
// a concurrent scrape reads a value that was current at some point.
void AddDouble(std::atomic<std::uint64_t>& cell, double v) {
  cell.store(ToBits(ToDouble(cell.load(std::memory_order_relaxed)) + v), std::memory_order_relaxed);
}
void Increment(std::atomic<std::uint64_t>& cell) {
  cell.store(cell.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

std::size_t CellsPerSeries(const MetricSpec& spec) {
  switch (spec.type) {
    case MetricType::kCounter:
      return 1;  // value
    case MetricType::kGauge:
      return 2;  // value, stamp of the write (0: never set)
    case MetricType::kHistogram:
      return spec.buckets.size() + 2;  // one count per bucket, +Inf, sum
  }
  return 1;
}

prometheus::MetricType ToPrometheus(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return prometheus::MetricType::Counter;
    case MetricType::kGauge:
      return prometheus::MetricType::Gauge;
    case MetricType::kHistogram:
      return prometheus::MetricType::Histogram;
  }
  return prometheus::MetricType::Untyped;
}

}  // namespace

Store::Store(std::vector<MetricSpec> specs) {
  MetricSpec overflow;
  overflow.name = "llm_log_exporter_label_overflow_total";
  overflow.help =
      "Label values sent to the overflow series: the metric had reached its series cap, "
      "or the value was longer than 128 bytes";
  overflow.type = MetricType::kCounter;
  overflow.label_names = {"metric"};
  for (const MetricSpec& spec : specs) {
    const bool dynamic =
        spec.label_names.size() == 1 && spec.max_series > spec.initial_series.size();
    if (dynamic) overflow.initial_series.push_back({spec.name});
  }
  overflow_metric_ = specs.size();
  specs.push_back(std::move(overflow));

  for (MetricSpec& spec : specs) {
    auto m = std::make_unique<Metric>();
    m->dynamic = spec.label_names.size() == 1 && spec.max_series > spec.initial_series.size();
    m->series_capacity = m->dynamic ? spec.max_series + 1 : spec.initial_series.size();
    m->cells_per_series = CellsPerSeries(spec);
    m->first_cell = num_cells_;
    num_cells_ += m->series_capacity * m->cells_per_series;
    if (m->dynamic) {
      m->labels.reserve(spec.max_series);
      for (const auto& tuple : spec.initial_series) m->labels.push_back(tuple.at(0));
    }
    m->size.store(spec.initial_series.size());
    m->spec = std::move(spec);
    metrics_.push_back(std::move(m));
  }
}

Store::~Store() = default;

Shard* Store::AddShard() {
  std::lock_guard<std::mutex> lock(mutex_);
  shards_.push_back(std::unique_ptr<Shard>(new Shard(*this)));
  return shards_.back().get();
}

Shard::Shard(Store& store)
    : store_(store), cells_(store.num_cells_), known_labels_(store.metrics_.size()) {
  for (std::size_t i = 0; i < store.metrics_.size(); ++i) {
    known_labels_[i] = store.metrics_[i]->labels;  // caller holds store.mutex_
  }
}

std::uint32_t Shard::ResolveSeries(std::uint32_t metric, std::string_view label_value) {
  Store::Metric& m = *store_.metrics_[metric];
  const auto overflow = static_cast<std::uint32_t>(m.series_capacity - 1);
  if (!m.dynamic) return overflow + 1;  // out of range: ignored
  std::vector<std::string>& known = known_labels_[metric];
  for (std::size_t i = 0; i < known.size(); ++i) {
    if (known[i] == label_value) return static_cast<std::uint32_t>(i);
  }
  // The overflow value names the overflow series itself, never a second one.
  if (label_value == m.spec.overflow_value) {
    m.overflow_used.store(true, std::memory_order_relaxed);
    return overflow;
  }
  if (label_value.size() <= kMaxLabelValueBytes && known.size() < m.spec.max_series) {
    // Slow path, once per new value per shard: learn what other shards added, or add it.
    std::lock_guard<std::mutex> lock(store_.mutex_);
    const std::size_t size = m.size.load(std::memory_order_relaxed);
    for (std::size_t i = known.size(); i < size; ++i) {
      known.push_back(m.labels[i]);
      if (known[i] == label_value) return static_cast<std::uint32_t>(i);
    }
    if (size < m.spec.max_series) {
      m.labels.emplace_back(label_value);
      known.emplace_back(label_value);
      m.size.store(size + 1, std::memory_order_release);
      return static_cast<std::uint32_t>(size);
    }
  }
  m.overflow_used.store(true, std::memory_order_relaxed);
  Store::Metric& counter = *store_.metrics_[store_.overflow_metric_];
  std::size_t index = 0;
  for (std::size_t i = 0; i < metric; ++i) index += store_.metrics_[i]->dynamic ? 1 : 0;
  AddDouble(cells_[counter.first_cell + index], 1);
  return overflow;
}

void Shard::Apply(const Update& update) {
  if (update.metric >= store_.metrics_.size()) return;
  const Store::Metric& m = *store_.metrics_[update.metric];
  const std::uint32_t series = update.series == kDynamicSeries
                                   ? ResolveSeries(update.metric, update.label_value)
                                   : update.series;
  if (series >= m.series_capacity) return;
  std::atomic<std::uint64_t>* cell = &cells_[m.first_cell + series * m.cells_per_series];
  switch (m.spec.type) {
    case MetricType::kCounter:
      if (update.value >= 0) AddDouble(cell[0], update.value);  // also refuses NaN
      break;
    case MetricType::kGauge:
      cell[0].store(ToBits(update.value), std::memory_order_relaxed);
      cell[1].store(stamp_, std::memory_order_relaxed);
      break;
    case MetricType::kHistogram: {
      const std::vector<double>& b = m.spec.buckets;
      // `le` is inclusive: the bucket is the number of bounds below the value
      // (past the last one: +Inf). Counting without branches beats a binary
      // search here: values are unpredictable, bucket lists short.
      std::size_t i = 0;
      for (const double bound : b) i += bound < update.value ? 1 : 0;
      Increment(cell[i]);
      AddDouble(cell[b.size() + 1], update.value);
      break;
    }
  }
}

std::vector<prometheus::MetricFamily> Store::Collect() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<prometheus::MetricFamily> out;
  out.reserve(metrics_.size());
  for (const auto& mp : metrics_) {
    const Metric& m = *mp;
    prometheus::MetricFamily family;
    family.name = m.spec.name;
    family.help = m.spec.help;
    family.type = ToPrometheus(m.spec.type);
    const std::size_t size = m.size.load(std::memory_order_acquire);
    std::vector<std::size_t> series(size);
    for (std::size_t s = 0; s < size; ++s) series[s] = s;
    if (m.dynamic && m.overflow_used.load(std::memory_order_relaxed)) {
      series.push_back(m.series_capacity - 1);
    }
    for (std::size_t s : series) {
      prometheus::ClientMetric metric;
      for (std::size_t l = 0; l < m.spec.label_names.size(); ++l) {
        std::string value = !m.dynamic ? m.spec.initial_series[s].at(l)
                            : s < size ? m.labels[s]
                                       : m.spec.overflow_value;
        metric.label.push_back({m.spec.label_names[l], std::move(value)});
      }
      const std::size_t base = m.first_cell + s * m.cells_per_series;
      auto cell = [&](const Shard& shard, std::size_t i) {
        return shard.cells_[base + i].load(std::memory_order_relaxed);
      };
      switch (m.spec.type) {
        case MetricType::kCounter:
          for (const auto& shard : shards_) metric.counter.value += ToDouble(cell(*shard, 0));
          break;
        case MetricType::kGauge: {
          std::uint64_t best = 0;
          for (const auto& shard : shards_) {
            if (cell(*shard, 1) > best) {
              best = cell(*shard, 1);
              metric.gauge.value = ToDouble(cell(*shard, 0));
            }
          }
          if (best == 0) continue;  // never set: no invented value
          break;
        }
        case MetricType::kHistogram: {
          const std::vector<double>& b = m.spec.buckets;
          std::uint64_t cumulative = 0;
          for (std::size_t i = 0; i <= b.size(); ++i) {
            for (const auto& shard : shards_) cumulative += cell(*shard, i);
            metric.histogram.bucket.push_back(
                {cumulative, i < b.size() ? b[i] : std::numeric_limits<double>::infinity()});
          }
          metric.histogram.sample_count = cumulative;  // equals +Inf by construction
          for (const auto& shard : shards_) {
            metric.histogram.sample_sum += ToDouble(cell(*shard, b.size() + 1));
          }
          break;
        }
      }
      family.metric.push_back(std::move(metric));
    }
    out.push_back(std::move(family));
  }
  return out;
}

}  // namespace lle
