#include "llm_log_exporter/store/store.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#if defined(__SSE2__)
#include <immintrin.h>
#endif
#include <limits>
#include <new>
#include <utility>

#include "llm_log_exporter/core/ascii.h"
#include "llm_log_exporter/store/native_buckets.h"

namespace lle {

struct LabelTable {
  LabelSpec spec;
  std::size_t radix = 1;  // max_values, plus the overflow value
  // Values [0, size) of this label; appended under the store's mutex only.
  std::vector<std::string> values;
  std::atomic<std::size_t> size{0};
  // Indices of the values [0, size) and of the overflow value (radix - 1),
  // in order of their text: kept by Store::SortedValues under the store's
  // mutex, for scrapes; with whether two of them have the same text (only
  // a spec made in code can have that: the config refuses it).
  mutable std::vector<std::uint32_t> sorted;
  mutable bool sorted_ties = false;
};

namespace {

// Whether every byte of `text` is printable ASCII (0x20 to 0x7e), 8 at a
// time: a line with a trace id asks once per line.
bool AllPrintableAscii(std::string_view text) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ull;
  constexpr std::uint64_t kHighs = kOnes * 0x80;
  std::size_t i = 0;
  for (; i + 8 <= text.size(); i += 8) {
    std::uint64_t x;
    std::memcpy(&x, text.data() + i, 8);
    // A high bit of x: not ASCII. Of (x - 0x20 each) & ~x: some byte below
    // 0x20 (a borrow it starts may set others'; the answer is the same). Of
    // (x & 0x7f each) + 1, which carries out of no byte: some byte 0x7f (DEL).
    if ((x | ((x - kOnes * 0x20) & ~x) | ((x & ~kHighs) + kOnes)) & kHighs) return false;
  }
  for (; i < text.size(); ++i) {
    const auto u = static_cast<unsigned char>(text[i]);
    if (u < 0x20 || u >= 0x7f) return false;
  }
  return true;
}

// Label values longer than this go to the overflow series: a label is an
// identifier, and a runaway value (a message in the status field) must not
// bloat every scrape.
constexpr std::size_t kMaxLabelValueBytes = 128;

// A control byte (NUL, ESC, DEL, ...) in a label value would reach whoever
// reads /metrics in a terminal: such a value goes to the overflow series.
bool HasControlByte(std::string_view value) {
  return std::any_of(value.begin(), value.end(), IsControlByte);
}

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
[[gnu::always_inline]] inline double LoadDouble(const std::atomic<std::uint64_t>& cell) {
  return ToDouble(cell.load(std::memory_order_relaxed));
}
[[gnu::always_inline]] inline void StoreDouble(std::atomic<std::uint64_t>& cell, double v) {
  cell.store(ToBits(v), std::memory_order_relaxed);
}
[[gnu::always_inline]] inline void AddDouble(std::atomic<std::uint64_t>& cell, double v) {
  StoreDouble(cell, LoadDouble(cell) + v);
}
[[gnu::always_inline]] inline void AddCount(std::atomic<std::uint64_t>& cell, std::uint64_t n) {
  cell.store(cell.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

// Whether a metric's series add up values: counters, `add` gauges and
// histograms (their sum) do.
bool AddsUp(const MetricSpec& spec) {
  return spec.type != MetricType::kGauge || spec.gauge_mode == GaugeMode::kAdd;
}

// Counter: value. Gauge: value, stamp of the last write (0: never set).
// Histogram: one count per bucket, +Inf, sum, and with native buckets the
// number of their slot in the shard (Shard::natives_). With SumMode::kExact, a series
// that adds up values ends with the low and high words of its exact part,
// and its double holds only the values that the exact part cannot.
std::size_t CellsPerSeries(const MetricSpec& spec, SumMode sums) {
  const std::size_t plain = spec.type == MetricType::kCounter ? 1
                            : spec.type == MetricType::kGauge
                                ? 2
                                : spec.buckets.size() + 2 + (spec.native.enabled ? 1 : 0);
  return plain + (sums == SumMode::kExact && AddsUp(spec) ? 2 : 0);
}

// Exact sums: two's complement integers in units of 2^-80 (GCC and Clang).
__extension__ typedef __int128 Fixed;
__extension__ typedef unsigned __int128 UFixed;

[[gnu::always_inline]] inline Fixed LoadFixed(const std::atomic<std::uint64_t>* cells) {
  return static_cast<Fixed>(static_cast<UFixed>(cells[1].load(std::memory_order_relaxed)) << 64 |
                            cells[0].load(std::memory_order_relaxed));
}

// Adds `value` to the exact sum in cells[0..1], or returns false if it has
// bits outside [2^-80, 2^126) (too small, too large, not finite) or the sum
// would overflow. Branches little: this runs for every value --once adds.
[[gnu::always_inline]] inline bool AddExact(std::atomic<std::uint64_t>* cells, double value) {
  const std::uint64_t bits = ToBits(value);
  // value = mantissa * 2^(exponent - 1075) = (mantissa << shift) * 2^-80.
  const int shift = static_cast<int>(bits >> 52 & 0x7ff) - 995;
  const std::uint64_t mantissa = (bits & ((std::uint64_t{1} << 52) - 1)) | std::uint64_t{1} << 52;
  UFixed fixed;
  if (shift >= 0 && shift <= 73) {  // 53 + 73 bits: below 2^126
    fixed = static_cast<UFixed>(mantissa) << shift;
  } else if (shift < 0 && shift >= -52 && mantissa << (64 + shift) == 0) {
    fixed = mantissa >> -shift;
  } else {
    return bits << 1 == 0;  // zero adds nothing; anything else does not fit
  }
  if (bits >> 63 != 0) fixed = -fixed;
  Fixed sum;
  if (__builtin_add_overflow(LoadFixed(cells), static_cast<Fixed>(fixed), &sum)) return false;
  cells[0].store(static_cast<std::uint64_t>(sum), std::memory_order_relaxed);
  cells[1].store(static_cast<std::uint64_t>(static_cast<UFixed>(sum) >> 64),
                 std::memory_order_relaxed);
  return true;
}

// Adds `value` to a sum: whole numbers under 2^52 (token counts, most
// durations in ms) to its double in `cell`, where they add up exactly in any
// order; others to its exact part if `exact` (else null) can take them, else
// to the double too.
[[gnu::always_inline]] inline void AddToSum(std::atomic<std::uint64_t>& cell,
                                            std::atomic<std::uint64_t>* exact, double value) {
  if (exact != nullptr && !(std::fabs(value) < 0x1p52 &&
                            value == static_cast<double>(static_cast<std::int64_t>(value)))) {
    if (AddExact(exact, value)) return;
  }
  AddDouble(cell, value);
}

// Values a label's table holds: its cap (or its initial values), and the overflow value.
std::size_t Radix(const LabelSpec& label) {
  return std::max(label.max_values, label.values.size()) + 1;
}

bool SameShape(const MetricSpec& a, const MetricSpec& b) {
  if (a.type != b.type || a.buckets != b.buckets || a.native != b.native ||
      a.labels.size() != b.labels.size()) {
    return false;
  }
  if (a.type == MetricType::kGauge && a.gauge_mode != b.gauge_mode) return false;
  for (std::size_t l = 0; l < a.labels.size(); ++l) {
    if (a.labels[l].name != b.labels[l].name) return false;
  }
  return true;
}

// How many of `bounds` (a multiple of four) are below `value`: the histogram
// bucket, as `le` is inclusive. Comparing every bound without branches beats
// a binary search (values are unpredictable, lists short), and SIMD does two
// or four at a time.
inline std::size_t BoundsBelow(const double* bounds, std::size_t n, double value) {
#if defined(__AVX__)
  const __m256d v = _mm256_set1_pd(value);
  unsigned below = 0;
  for (std::size_t j = 0; j < n; j += 4) {
    const __m256d lt = _mm256_cmp_pd(_mm256_loadu_pd(bounds + j), v, _CMP_LT_OQ);
    below += static_cast<unsigned>(__builtin_popcount(_mm256_movemask_pd(lt)));
  }
  return below;
#elif defined(__SSE2__)
  const __m128d v = _mm_set1_pd(value);
  __m128i below = _mm_setzero_si128();
  for (std::size_t j = 0; j < n; j += 2) {  // a true lane is all ones: -1
    below = _mm_sub_epi64(below, _mm_castpd_si128(_mm_cmplt_pd(_mm_loadu_pd(bounds + j), v)));
  }
  return static_cast<std::size_t>(_mm_cvtsi128_si64(below) +
                                  _mm_cvtsi128_si64(_mm_unpackhi_epi64(below, below)));
#else
  std::size_t below = 0;
  for (std::size_t j = 0; j < n; ++j) below += bounds[j] < value ? 1 : 0;
  return below;
#endif
}

}  // namespace

ExemplarCheck ExemplarFrom(std::string_view name, std::string_view text, double timestamp_seconds,
                           ExemplarRef* out) {
  if (text.empty()) return ExemplarCheck::kAbsent;
  // A traceparent: version (not ff), trace id, parent id, flags; later
  // versions may append fields after another '-'.
  const auto hex = [](std::string_view s) {
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
  };
  if (name == "trace_id" && text.size() >= 55 && text[2] == '-' && text[35] == '-' &&
      text[52] == '-') {
    const std::string_view trace = text.substr(3, 32);
    if (!hex(text.substr(0, 2)) || text.substr(0, 2) == "ff" || !hex(trace) ||
        !hex(text.substr(36, 16)) || !hex(text.substr(53, 2)) ||
        trace == std::string_view("00000000000000000000000000000000") ||
        (text.size() > 55 && text[55] != '-')) {
      return ExemplarCheck::kRefused;
    }
    text = trace;
  }
  // Printable ASCII (ids as a rule): a code point per byte.
  if (AllPrintableAscii(text)) {
    if (name.size() + text.size() > kMaxExemplarRunes) return ExemplarCheck::kTooLong;
    *out = {name, text, timestamp_seconds};
    return ExemplarCheck::kUsed;
  }
  // Code points, checking UTF-8 as they are counted.
  std::size_t runes = name.size();
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t n = c < 0x80           ? 1
                    : (c >> 5) == 0x6  ? 2
                    : (c >> 4) == 0xe  ? 3
                    : (c >> 3) == 0x1e ? 4
                                       : 0;
    if (n == 0 || i + n > text.size() || IsControlByte(text[i])) return ExemplarCheck::kRefused;
    for (std::size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xc0) != 0x80) return ExemplarCheck::kRefused;
    }
    i += n;
    if (++runes > kMaxExemplarRunes) return ExemplarCheck::kTooLong;
  }
  *out = {name, text, timestamp_seconds};
  return ExemplarCheck::kUsed;
}

// The exemplars the shards keep, copied out under each shard's lock (never
// held for the rest of a scrape: writers go on), found by cell: the newest
// of a cell's over the shards. Each Exemplar lies in one block with its
// label's text just after it, in the order the scrape writes them, and
// families share the block through aliasing pointers: no allocation per
// exemplar, and the writer reads them one after another. A block returns
// to its store's pool once no family shows it, and the next scrape writes
// over it, as over the index's tables (thread_local scratch): a scrape of
// 100,000 exemplars would otherwise map and fault in tens of megabytes
// afresh.
struct Store::ExemplarBlock {
  // Records of 8-byte words: an Exemplar, then its label's name and value.
  std::vector<std::uint64_t> words;
};

struct Store::ExemplarPool {
  std::mutex mutex;  // guards free; a block is handed over under it
  std::vector<std::unique_ptr<ExemplarBlock>> free;
  // Each scraping thread's families show one block (two while it scrapes).
  static constexpr std::size_t kMaxFree = 8;

  // A block to write over, shared by the pointers to its exemplars: the
  // last of them gives it back.
  static std::shared_ptr<ExemplarBlock> Take(const std::shared_ptr<ExemplarPool>& pool) {
    std::unique_ptr<ExemplarBlock> block;
    {
      std::lock_guard<std::mutex> lock(pool->mutex);
      if (!pool->free.empty()) {
        block = std::move(pool->free.back());
        pool->free.pop_back();
      }
    }
    if (block == nullptr) block = std::make_unique<ExemplarBlock>();
    return std::shared_ptr<ExemplarBlock>(block.release(), [pool](ExemplarBlock* returned) {
      std::unique_ptr<ExemplarBlock> owned(returned);
      std::lock_guard<std::mutex> lock(pool->mutex);
      if (pool->free.size() < kMaxFree) pool->free.push_back(std::move(owned));
    });
  }
};

Store::Store(std::vector<MetricSpec> specs, SumMode sums, std::size_t shards)
    : sums_(sums), exemplar_pool_(std::make_shared<ExemplarPool>()) {
  std::vector<std::string> dynamic;
  for (const MetricSpec& spec : specs) {
    if (spec.dynamic && !spec.labels.empty()) dynamic.push_back(spec.name);
  }
  if (!dynamic.empty()) {
    MetricSpec overflow;
    overflow.name = "llm_log_exporter_label_overflow_total";
    overflow.help =
        "Label values sent to the overflow value: not allowed, over the label's cap of "
        "distinct values, longer than 128 bytes, or holding control characters";
    overflow.labels = {FixedLabel("metric", std::move(dynamic))};
    overflow_metric_ = specs.size();
    specs.push_back(std::move(overflow));
  }

  std::size_t next_overflow_series = 0;
  for (MetricSpec& spec : specs) {
    auto m = std::make_unique<Metric>();
    std::size_t initial = 1;  // combinations of the labels' initial values
    for (const LabelSpec& label_spec : spec.labels) {
      auto label = std::make_unique<LabelTable>();
      label->spec = label_spec;
      label->radix = Radix(label_spec);
      label->values = label_spec.values;
      label->values.reserve(label->radix - 1);
      label->size.store(label->values.size());
      m->series_capacity *= label->radix;
      initial *= label_spec.values.size();
      m->labels.push_back(std::move(label));
    }
    m->cells_per_series = CellsPerSeries(spec, sums);
    if (spec.type == MetricType::kHistogram) {
      m->padded_bounds = spec.buckets;
      m->padded_bounds.resize((spec.buckets.size() + 3) / 4 * 4,
                              std::numeric_limits<double>::infinity());
    }
    m->first_cell = num_cells_;
    num_cells_ += m->series_capacity * m->cells_per_series;
    m->exists = std::make_unique<std::atomic<bool>[]>(m->series_capacity);
    m->labelled = !m->labels.empty();
    for (std::size_t i = 0; i < initial; ++i) {
      // The i-th combination, the last label varying fastest.
      std::size_t rest = i, series = 0, weight = 1;
      for (std::size_t l = m->labels.size(); l-- > 0;) {
        const std::size_t n = m->labels[l]->values.size();
        series += rest % n * weight;
        rest /= n;
        weight *= m->labels[l]->radix;
      }
      m->exists[series].store(true);
      m->initial_series.push_back(static_cast<std::uint32_t>(series));
    }
    if (spec.dynamic && !spec.labels.empty()) m->overflow_series = next_overflow_series++;
    m->spec = std::move(spec);
    metrics_.push_back(std::move(m));
  }
  std::lock_guard<std::mutex> lock(mutex_);
  while (spare_.size() < shards) spare_.push_back(std::unique_ptr<Shard>(new Shard(*this)));
}

Store::~Store() = default;

std::size_t Store::MaxBytes(const MetricSpec& spec, std::size_t shards, SumMode sums) {
  std::size_t series = 1;
  std::size_t label_bytes = 0;
  for (const LabelSpec& label : spec.labels) {
    series *= Radix(label);
    // Per value: the table's string and its heap copy, and each shard's view of it.
    label_bytes += (Radix(label) - 1) * (sizeof(std::string) + kMaxLabelValueBytes + 1 +
                                         shards * sizeof(std::string_view));
  }
  // Per series: its `exists` flag, and its cells in each shard; native
  // buckets in each shard: a slot, and two lists whose capacities (doubling
  // as they grow) add up to at most twice the buckets they may hold.
  const std::size_t native =
      spec.type == MetricType::kHistogram && spec.native.enabled
          ? sizeof(Shard::NativeSlot) +
                2 *
                    (std::max<std::size_t>(spec.native.max_buckets, kMaxNativeBucketsAtMinSchema) +
                     1) *
                    sizeof(NativeBucket)
          : 0;
  return series *
             (sizeof(std::atomic<bool>) +
              shards * (CellsPerSeries(spec, sums) * sizeof(std::atomic<std::uint64_t>) + native)) +
         label_bytes;
}

Shard* Store::AddShard() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (spare_.empty()) {
    shards_.push_back(std::unique_ptr<Shard>(new Shard(*this)));
  } else {
    shards_.push_back(std::move(spare_.back()));
    spare_.pop_back();
  }
  return shards_.back().get();
}

Shard::Shard(Store& store) : store_(store), cells_(store.num_cells_) {
  // The caller holds store.mutex_.
  for (const auto& m : store.metrics_) {
    Hot hot;
    hot.first_known = static_cast<std::uint32_t>(known_.size());
    hot.num_labels = static_cast<std::uint32_t>(m->labels.size());
    for (const auto& label : m->labels) {
      known_.push_back({label.get(), label->radix, {}});
      for (std::size_t i = 0; i < label->size.load(std::memory_order_relaxed); ++i) {
        known_.back().values.push_back(label->values[i]);
      }
    }
    hot.series0.cells = cells_.data() + m->first_cell;
    hot.series0.bounds = m->padded_bounds.data();
    hot.series0.num_bounds = static_cast<std::uint32_t>(m->padded_bounds.size());
    hot.series0.sum_cell = static_cast<std::uint32_t>(m->spec.buckets.size() + 1);
    if (store.sums_ == SumMode::kExact && AddsUp(m->spec)) {
      hot.series0.exact_cell = static_cast<std::uint32_t>(m->cells_per_series - 2);
    }
    switch (m->spec.type) {
      case MetricType::kCounter:
        hot.series0.kind = CellKind::kCounter;
        break;
      case MetricType::kGauge:
        hot.series0.kind = m->spec.gauge_mode == GaugeMode::kSet   ? CellKind::kGaugeSet
                           : m->spec.gauge_mode == GaugeMode::kMax ? CellKind::kGaugeMax
                                                                   : CellKind::kGaugeAdd;
        break;
      case MetricType::kHistogram:
        hot.series0.kind =
            m->spec.native.enabled ? CellKind::kNativeHistogram : CellKind::kHistogram;
        break;
    }
    hot.exists = m->labelled ? m->exists.get() : nullptr;
    hot.initial_series = m->initial_series.data();
    hot.num_initial = static_cast<std::uint32_t>(m->initial_series.size());
    hot.cells_per_series = static_cast<std::uint32_t>(m->cells_per_series);
    hot_.push_back(hot);
  }
}

std::size_t Shard::ResolveValue(Known& known, std::string_view value, bool* overflow) {
  for (std::size_t i = 0; i < known.values.size(); ++i) {
    const std::string_view v = known.values[i];
    if (v.size() == value.size() && std::memcmp(v.data(), value.data(), v.size()) == 0) return i;
  }
  LabelTable& l = *known.label;
  const std::size_t overflow_index = known.radix - 1;
  // The overflow value names the overflow series itself, never a second one.
  if (value == l.spec.overflow) return overflow_index;
  if (value.size() <= kMaxLabelValueBytes && known.values.size() < overflow_index &&
      !HasControlByte(value)) {
    // Slow path, once per new value per shard: learn what other shards added, or add it.
    std::lock_guard<std::mutex> lock(store_.mutex_);
    const std::size_t size = l.size.load(std::memory_order_relaxed);
    for (std::size_t i = known.values.size(); i < size; ++i) {
      known.values.push_back(l.values[i]);
      if (known.values[i] == value) return i;
    }
    if (size < overflow_index) {
      l.values.emplace_back(value);  // reserved: earlier views stay valid
      known.values.push_back(l.values.back());
      l.size.store(size + 1, std::memory_order_release);
      return size;
    }
  }
  *overflow = true;
  return overflow_index;
}

std::size_t Shard::ResolveSeries(std::uint32_t metric, const std::string_view* labels) {
  const Hot& m = hot_[metric];
  std::size_t series = 0;
  bool overflow = false;
  for (std::uint32_t l = 0; l < m.num_labels; ++l) {
    Known& known = known_[m.first_known + l];
    series = series * known.radix + ResolveValue(known, labels[l], &overflow);
  }
  if (overflow && store_.overflow_metric_ != SIZE_MAX) {
    Write(static_cast<std::uint32_t>(store_.overflow_metric_),
          store_.metrics_[metric]->overflow_series, 1, 1);
  }
  return series;
}

// Inlined into the hot paths (Apply, Write).
[[gnu::always_inline]] inline std::atomic<std::uint64_t>* Shard::WriteCells(
    const BoundSeries& series, double value, std::uint64_t times) {
  // times is 1 but for sampled lines: a constant the compiler folds away.
  const double weight = static_cast<double>(times);
  std::atomic<std::uint64_t>* cell = series.cells;
  switch (series.kind) {
    case CellKind::kCounter:
      if (!(value >= 0)) return nullptr;  // also refuses NaN
      AddToSum(cell[0], series.exact_cell != 0 ? cell + series.exact_cell : nullptr,
               value * weight);
      return cell;
    case CellKind::kGaugeSet:
      StoreDouble(cell[0], value);
      break;
    case CellKind::kGaugeMax:
      if (cell[1].load(std::memory_order_relaxed) == 0 || value > LoadDouble(cell[0])) {
        StoreDouble(cell[0], value);
      }
      break;
    case CellKind::kGaugeAdd:
      if (cell[1].load(std::memory_order_relaxed) == 0) StoreDouble(cell[0], 0);
      AddToSum(cell[0], series.exact_cell != 0 ? cell + series.exact_cell : nullptr,
               value * weight);
      break;
    case CellKind::kNativeHistogram:
      return WriteNative(series, value, times);
    case CellKind::kHistogram: {
      std::atomic<std::uint64_t>* bucket =
          cell + BoundsBelow(series.bounds, series.num_bounds, value);
      AddCount(*bucket, times);
      AddToSum(cell[series.sum_cell], series.exact_cell != 0 ? cell + series.exact_cell : nullptr,
               value * weight);
      return bucket;
    }
  }
  cell[1].store(stamp_, std::memory_order_relaxed);  // gauges: when last set
  return nullptr;
}

Shard::NativeSlot& Shard::NativeSlotOf(std::atomic<std::uint64_t>* cell) {
  const std::uint64_t slot = cell->load(std::memory_order_relaxed);
  if (slot != 0) return natives_[slot - 1];
  // The metric whose cells hold `cell`: the last to start at or before it.
  const std::size_t offset = static_cast<std::size_t>(cell - cells_.data());
  const auto& metrics = store_.metrics_;
  const auto m = std::upper_bound(metrics.begin(), metrics.end(), offset,
                                  [](std::size_t o, const std::unique_ptr<Store::Metric>& metric) {
                                    return o < metric->first_cell;
                                  }) -
                 1;
  natives_.push_back({EmptyNative((*m)->spec.native), (*m)->spec.native.max_buckets});
  cell->store(natives_.size(), std::memory_order_relaxed);
  return natives_.back();
}

std::atomic<std::uint64_t>* Shard::WriteNative(const BoundSeries& series, double value,
                                               std::uint64_t times) {
  {
    // Native first: a scrape reads the classic cells first, so it never sees
    // an observation in them that is not in the native buckets yet.
    std::lock_guard<std::mutex> lock(native_mutex_);
    NativeSlot& slot = NativeSlotOf(series.cells + series.sum_cell + 1);
    ObserveNative(&slot.histogram, value, times, slot.max_buckets);
  }
  BoundSeries classic = series;
  classic.kind = CellKind::kHistogram;
  return WriteCells(classic, value, times);
}

[[gnu::always_inline]] inline std::atomic<std::uint64_t>* Shard::Write(std::uint32_t metric,
                                                                       std::size_t series,
                                                                       double value,
                                                                       std::uint64_t times) {
  const Hot& m = hot_[metric];
  if (m.exists != nullptr && !m.exists[series].load(std::memory_order_relaxed)) {
    m.exists[series].store(true, std::memory_order_relaxed);
  }
  BoundSeries target = m.series0;
  target.cells += series * m.cells_per_series;
  return WriteCells(target, value, times);
}

[[gnu::always_inline]] inline void Shard::Unref(std::uint32_t label) {
  if (--labels_[label - 1].refs == 0) free_labels_.push_back(label);
}

void Shard::PooledLabel::Assign(std::string_view name, std::string_view value) {
  name_size = static_cast<std::uint32_t>(name.size());
  value_size = static_cast<std::uint32_t>(value.size());
  char* out = text;
  if (name.size() + value.size() > kInline) {
    spill.resize(name.size() + value.size());
    out = spill.data();
  }
  std::memcpy(out, name.data(), name.size());
  std::memcpy(out + name.size(), value.data(), value.size());
}

std::uint32_t Shard::ExemplarLabel(const ExemplarRef& exemplar) {
  if (last_label_ != 0) {
    const PooledLabel& last = labels_[last_label_ - 1];
    if (last.value() == exemplar.value && last.name() == exemplar.name) return last_label_;
  }
  std::uint32_t made;
  if (free_labels_.empty()) {
    labels_.emplace_back();
    made = static_cast<std::uint32_t>(labels_.size());
  } else {
    made = free_labels_.back();
    free_labels_.pop_back();
  }
  PooledLabel& pooled = labels_[made - 1];
  pooled.Assign(exemplar.name, exemplar.value);
  pooled.refs = 1;  // last_label_'s
  if (last_label_ != 0) Unref(last_label_);
  last_label_ = made;
  return made;
}

void Shard::KeptTable::Grow() {
  std::vector<Kept> old = std::move(slots);
  slots.assign(std::max<std::size_t>(64, 2 * old.size()), Kept{});
  size = 0;
  for (Kept& k : old) {
    if (k.label != 0) At(k.cell) = k;
  }
}

// Inlined into the writes with an exemplar, as KeepExemplar: a line marks a
// dozen cells.
[[gnu::always_inline]] inline Shard::Kept& Shard::KeptTable::At(std::size_t cell) {
  if (2 * (size + 1) > slots.size()) Grow();
  const std::size_t mask = slots.size() - 1;
  // Fibonacci hashing: neighbouring cells (a histogram's buckets) spread out.
  for (std::size_t i = (cell * 0x9e3779b97f4a7c15ull) >> 32 & mask;; i = (i + 1) & mask) {
    Kept& k = slots[i];
    if (k.label == 0) {
      k.cell = cell;
      ++size;
      return k;
    }
    if (k.cell == cell) return k;
  }
}

[[gnu::always_inline]] inline void Shard::KeepExemplar(std::size_t cell, double value,
                                                       std::uint32_t label, double timestamp) {
  Kept& kept = exemplars_.At(cell);
  if (kept.label != label) {
    ++labels_[label - 1].refs;
    if (kept.label != 0) Unref(kept.label);
    kept.label = label;
  }
  kept.observed = value;
  kept.timestamp_seconds = timestamp;
}

template <bool kExemplar>
[[gnu::always_inline]] inline void Shard::ApplyUpdates(const Update* updates, std::size_t n,
                                                       const ExemplarRef* exemplar,
                                                       std::uint64_t times) {
  // The series an update writes into *series; false for one that is ignored.
  const auto series_of = [this](const Update& update, std::size_t* series) {
    if (update.metric >= hot_.size()) return false;
    if (update.series == kDynamicSeries) {
      *series = ResolveSeries(update.metric, update.labels);
      return true;
    }
    const Hot& m = hot_[update.metric];
    if (update.series >= m.num_initial) return false;  // out of range: ignored
    *series = m.initial_series[update.series];
    return true;
  };
  if constexpr (!kExemplar) {
    for (const Update* update = updates; update != updates + n; ++update) {
      std::size_t series;
      if (series_of(*update, &series)) Write(update->metric, series, update->value, times);
    }
  } else {
    // The series first: ResolveSeries takes the store's mutex, which a scrape
    // holds while it takes exemplars_mutex_. Then one lock for the writes.
    constexpr std::size_t kChunk = 32;
    std::size_t series[kChunk];
    for (std::size_t first = 0; first < n; first += kChunk) {
      const std::size_t count = std::min(kChunk, n - first);
      for (std::size_t i = 0; i < count; ++i) {
        if (!series_of(updates[first + i], &series[i])) series[i] = SIZE_MAX;
      }
      std::lock_guard<std::mutex> lock(exemplars_mutex_);
      const std::uint32_t label = ExemplarLabel(*exemplar);
      for (std::size_t i = 0; i < count; ++i) {
        if (series[i] == SIZE_MAX) continue;
        const Update& update = updates[first + i];
        if (std::atomic<std::uint64_t>* counted =
                Write(update.metric, series[i], update.value, times)) {
          KeepExemplar(static_cast<std::size_t>(counted - cells_.data()), update.value, label,
                       exemplar->timestamp_seconds);
        }
      }
    }
  }
}

void Shard::Apply(const Update* updates, std::size_t n) {
  ApplyUpdates<false>(updates, n, nullptr, 1);
}

void Shard::Apply(const Update* updates, std::size_t n, const ExemplarRef& exemplar) {
  ApplyUpdates<true>(updates, n, &exemplar, 1);
}

void Shard::Apply(const Update* updates, std::size_t n, const ExemplarRef* exemplar,
                  std::uint64_t times) {
  if (exemplar != nullptr) {
    ApplyUpdates<true>(updates, n, exemplar, times);
  } else {
    ApplyUpdates<false>(updates, n, nullptr, times);
  }
}

BoundSeries Shard::Bind(std::uint32_t metric, std::uint32_t series) const {
  if (metric >= hot_.size() || series >= hot_[metric].num_initial) return {};
  // An initial series exists from the start: writes need not mark it.
  const Hot& m = hot_[metric];
  BoundSeries bound = m.series0;
  bound.cells += std::size_t{m.initial_series[series]} * m.cells_per_series;
  return bound;
}

void Shard::Write(const BoundSeries* series, const double* values, std::uint64_t mask) {
  for (; mask != 0; mask &= mask - 1) {
    const int i = __builtin_ctzll(mask);
    if (series[i].cells != nullptr) WriteCells(series[i], values[i], 1);
  }
}

void Shard::Write(const BoundSeries* series, const double* values, std::uint64_t mask,
                  const ExemplarRef& exemplar) {
  Write(series, values, mask, &exemplar, 1);
}

void Shard::Write(const BoundSeries* series, const double* values, std::uint64_t mask,
                  const ExemplarRef* exemplar, std::uint64_t times) {
  if (exemplar == nullptr) {
    for (; mask != 0; mask &= mask - 1) {
      const int i = __builtin_ctzll(mask);
      if (series[i].cells != nullptr) WriteCells(series[i], values[i], times);
    }
    return;
  }
  std::lock_guard<std::mutex> lock(exemplars_mutex_);
  const std::uint32_t label = ExemplarLabel(*exemplar);
  for (; mask != 0; mask &= mask - 1) {
    const int i = __builtin_ctzll(mask);
    if (series[i].cells == nullptr) continue;
    if (std::atomic<std::uint64_t>* counted = WriteCells(series[i], values[i], times)) {
      KeepExemplar(static_cast<std::size_t>(counted - cells_.data()), values[i], label,
                   exemplar->timestamp_seconds);
    }
  }
}

std::uint64_t Store::Cell(const Metric& m, std::size_t s, std::size_t i) const {
  std::uint64_t sum = 0;
  for (const auto& shard : shards_) {
    sum += shard->cells_[m.first_cell + s * m.cells_per_series + i].load(std::memory_order_relaxed);
  }
  return sum;
}

bool Store::GaugeValue(const Metric& m, std::size_t s, double* value, std::uint64_t* stamp) const {
  bool set = false;
  *stamp = 0;
  for (const auto& shard : shards_) {
    const std::atomic<std::uint64_t>* cell = &shard->cells_[m.first_cell + s * m.cells_per_series];
    const std::uint64_t shard_stamp = cell[1].load(std::memory_order_relaxed);
    if (shard_stamp == 0) continue;
    const double v = LoadDouble(cell[0]);
    switch (m.spec.gauge_mode) {
      case GaugeMode::kSet:
        if (shard_stamp > *stamp) *value = v;
        break;
      case GaugeMode::kMax:
        if (!set || v > *value) *value = v;
        break;
      case GaugeMode::kAdd:
        *value = (set ? *value : 0) + v;
        break;
    }
    *stamp = std::max(*stamp, shard_stamp);
    set = true;
  }
  if (set && m.spec.gauge_mode == GaugeMode::kAdd) *value = Sum(m, s, 0);
  return set;
}

double Store::Sum(const Metric& m, std::size_t s, std::size_t i) const {
  const std::size_t first = m.first_cell + s * m.cells_per_series;
  double sum = 0;  // whole numbers, and values that no exact part could take
  for (const auto& shard : shards_) sum += LoadDouble(shard->cells_[first + i]);
  if (sums_ != SumMode::kExact) return sum;
  // Whole numbers only (as a rule): one more exact part, so the total is rounded once.
  const bool whole = std::fabs(sum) < 0x1p46 && sum == std::trunc(sum);
  Fixed fixed = 0;
  for (const auto& shard : shards_) {
    if (__builtin_add_overflow(fixed, LoadFixed(&shard->cells_[first + m.cells_per_series - 2]),
                               &fixed)) {
      // Over 2^47 in all: the shards' exact parts, rounded one by one.
      for (const auto& other : shards_) {
        sum += std::ldexp(
            static_cast<double>(LoadFixed(&other->cells_[first + m.cells_per_series - 2])), -80);
      }
      return sum;
    }
  }
  if (whole &&
      !__builtin_add_overflow(
          fixed, static_cast<Fixed>(static_cast<std::int64_t>(sum)) * (Fixed{1} << 80), &fixed)) {
    sum = 0;
  }
  // Rounded once, to nearest; scaling by a power of two is exact.
  return std::ldexp(static_cast<double>(fixed), -80) + sum;
}

NativeHistogram Store::Native(const Metric& m, std::size_t s) const {
  NativeHistogram merged = EmptyNative(m.spec.native);
  const std::size_t cell = m.first_cell + s * m.cells_per_series + m.spec.buckets.size() + 2;
  for (const auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard->native_mutex_);
    const std::uint64_t slot = shard->cells_[cell].load(std::memory_order_relaxed);
    if (slot != 0) {
      MergeNative(&merged, shard->natives_[slot - 1].histogram, m.spec.native.max_buckets);
    }
  }
  return merged;
}

std::vector<std::string_view> Store::SeriesLabels(const Metric& m, std::size_t s) {
  // The last label varies fastest; the top index of each label is its overflow.
  std::vector<std::string_view> values(m.labels.size());
  for (std::size_t l = m.labels.size(); l-- > 0;) {
    const LabelTable& label = *m.labels[l];
    const std::size_t i = s % label.radix;
    s /= label.radix;
    values[l] = i + 1 == label.radix ? std::string_view(label.spec.overflow) : label.values[i];
  }
  return values;
}

namespace {

static_assert(alignof(Exemplar) <= alignof(std::uint64_t) && sizeof(Exemplar) % 8 == 0);

// How many of a series' first cells may have an exemplar: a counter's value,
// a histogram's buckets (+Inf included).
std::size_t ExemplarCells(const MetricSpec& spec) {
  if (spec.type == MetricType::kCounter) return 1;
  if (spec.type == MetricType::kHistogram) return spec.buckets.size() + 1;
  return 0;
}

// The exemplars one scrape shows, laid out in the order it shows them. The
// scrape first names, in its order, every cell that may have one (Rank);
// then the shards' kept exemplars are copied out under their locks (Add);
// Build writes the newest of each cell into the block in the scrape's order;
// Next hands them out front to back. At 100,000 exemplars, looking each up
// by cell as the scrape went (a hash index, then the record) cost a cache
// miss or two per series; Build reads the records in the same order, but
// knows which ones come next and asks for them ahead.
class ExemplarIndex {
 public:
  // `block` may be null if Rank is never called.
  ExemplarIndex(std::shared_ptr<Store::ExemplarBlock> block, std::size_t num_cells)
      : block_(std::move(block)) {
    scratch_.entries.clear();
    scratch_.shown.clear();
    // Left as the last scrape wrote it: a stale rank is told by shown[rank].cell.
    if (block_ != nullptr && scratch_.rank_of_cell.size() < num_cells) {
      scratch_.rank_of_cell.resize(num_cells);
    }
  }
  // Call Rank for every cell that may have an exemplar, in the scrape's
  // order; Add for every exemplar kept; then Build; then Next in that order.
  void Rank(std::size_t cell) {
    scratch_.rank_of_cell[cell] = static_cast<std::uint32_t>(scratch_.shown.size());
    scratch_.shown.push_back({static_cast<std::uint32_t>(cell)});
  }
  void Reserve(std::size_t n) { scratch_.entries.reserve(scratch_.entries.size() + n); }
  void Add(std::size_t cell, std::string_view name, std::string_view value, double observed,
           double timestamp_seconds) {
    std::vector<std::uint64_t>& staged = scratch_.staged;
    const std::size_t at = staged_;
    const std::size_t text = name.size() + value.size();
    // Records are indexed in 32 bits, in the block too (at most twice the
    // words): beyond 16 GiB of them, no more (a budget stops far below).
    if (2 * (at + kHeadWords + Words(text)) >= kNone) return;
    staged_ += kHeadWords + Words(text);
    if (staged.size() < staged_) staged.resize(std::max(staged_, 2 * staged.size()));
    std::uint64_t* head = staged.data() + at;
    head[0] = name.size() << 32 | value.size();  // 128 code points at most together
    std::memcpy(&head[1], &observed, 8);
    std::memcpy(&head[2], &timestamp_seconds, 8);
    char* p = reinterpret_cast<char*>(head + kHeadWords);
    std::memcpy(p, name.data(), name.size());
    std::memcpy(p + name.size(), value.data(), value.size());
    scratch_.entries.push_back({cell, static_cast<std::uint32_t>(at)});
  }
  void Build() {
    const std::vector<Entry>& entries = scratch_.entries;
    std::vector<Shown>& shown = scratch_.shown;
    const std::size_t ranks = shown.size();
    if (entries.empty()) return;
    const std::uint64_t* const staged = scratch_.staged.data();
    // The newest record of each ranked cell (two shards may keep one each).
    // A cell the scrape does not show (its series came after the ranking) waits.
    std::size_t room = 0;  // words for all of them in the block, at most
    for (const Entry& e : entries) {
      const std::uint32_t rank = e.cell < scratch_.rank_of_cell.size()
                                     ? scratch_.rank_of_cell[e.cell]
                                     : std::numeric_limits<std::uint32_t>::max();
      if (rank >= ranks || shown[rank].cell != e.cell) continue;
      room += kExemplarWords + Words(TextSize(staged + e.at));
      Shown& best = shown[rank];
      if (best.at == kNone || Timestamp(staged + e.at) > Timestamp(staged + best.at)) {
        best.at = e.at;
      }
    }
    if (block_->words.size() < room) block_->words.resize(room);
    // Written in the scrape's order, each read where it lies staged (asked
    // for some ranks ahead).
    std::uint64_t* const out = block_->words.data();
    std::size_t written = 0;
    constexpr std::size_t kAhead = 16;
    for (std::size_t rank = 0; rank < ranks; ++rank) {
      if (rank + kAhead < ranks && shown[rank + kAhead].at != kNone) {
        __builtin_prefetch(staged + shown[rank + kAhead].at);
      }
      if (shown[rank].at == kNone) continue;
      const std::uint64_t* head = staged + shown[rank].at;
      const std::size_t name_size = head[0] >> 32;
      const std::size_t value_size = head[0] & 0xffffffffu;
      double observed = 0;
      std::memcpy(&observed, &head[1], 8);
      shown[rank].offset = static_cast<std::uint32_t>(written);
      std::uint64_t* record = out + written;
      written += kExemplarWords + Words(name_size + value_size);
      char* text = reinterpret_cast<char*>(record + kExemplarWords);
      std::memcpy(text, head + kHeadWords, name_size + value_size);
      new (record) Exemplar{
          {std::string_view(text, name_size), std::string_view(text + name_size, value_size)},
          observed,
          Timestamp(head)};
    }
  }
  // The exemplar of `cell`, the next ranked one, or null.
  std::shared_ptr<const Exemplar> Next(std::size_t cell) {
    const std::size_t rank = next_++;
    if (rank >= scratch_.shown.size() || scratch_.shown[rank].cell != cell)
      return nullptr;  // never
    const Shown& s = scratch_.shown[rank];
    if (s.at == kNone) return nullptr;
    return std::shared_ptr<const Exemplar>(
        block_, reinterpret_cast<const Exemplar*>(block_->words.data() + s.offset));
  }

 private:
  static constexpr std::size_t kExemplarWords = sizeof(Exemplar) / 8;
  // A staged record: the sizes of the label's name and value, the value
  // observed, its timestamp; then the label's text.
  static constexpr std::size_t kHeadWords = 3;
  static constexpr std::uint32_t kNone = UINT32_MAX;
  struct Entry {
    std::size_t cell;
    std::uint32_t at;  // its staged record's first word
  };
  // A ranked cell and the exemplar it shows: 12 bytes a cell that may have one.
  struct Shown {
    std::uint32_t cell;
    std::uint32_t at = kNone;  // its staged record, or kNone: none
    std::uint32_t offset = 0;  // where it is in the block
  };
  // Kept by each scraping thread: their capacity is reused.
  struct Scratch {
    std::vector<std::uint32_t> rank_of_cell;  // by cell: its rank, if shown[rank].cell is it
    std::vector<Shown> shown;                 // by rank
    std::vector<Entry> entries;
    std::vector<std::uint64_t> staged;  // records copied out under the shards' locks
  };
  static std::size_t Words(std::size_t bytes) { return (bytes + 7) / 8; }
  static std::size_t TextSize(const std::uint64_t* head) {
    return (head[0] >> 32) + (head[0] & 0xffffffffu);
  }
  static double Timestamp(const std::uint64_t* head) {
    double t = 0;
    std::memcpy(&t, head + 2, 8);
    return t;
  }

  static thread_local Scratch scratch_;
  std::shared_ptr<Store::ExemplarBlock> block_;
  std::size_t staged_ = 0;  // words of scratch_.staged written
  std::size_t next_ = 0;    // the rank Next hands out
};

thread_local ExemplarIndex::Scratch ExemplarIndex::scratch_;

}  // namespace

const std::vector<std::uint32_t>& Store::SortedValues(const LabelTable& label) {
  // Values are only appended: sorted again only when some were added.
  const std::size_t known = label.size.load(std::memory_order_relaxed);
  if (label.sorted.size() != known + 1) {
    const std::uint32_t overflow = static_cast<std::uint32_t>(label.radix - 1);
    const auto text = [&label, overflow](std::uint32_t i) {
      return i == overflow ? std::string_view(label.spec.overflow)
                           : std::string_view(label.values[i]);
    };
    label.sorted.resize(known);
    for (std::uint32_t i = 0; i < known; ++i) label.sorted[i] = i;
    label.sorted.push_back(overflow);
    std::sort(label.sorted.begin(), label.sorted.end(),
              [&text](std::uint32_t a, std::uint32_t b) { return text(a) < text(b); });
    label.sorted_ties = std::adjacent_find(label.sorted.begin(), label.sorted.end(),
                                           [&text](std::uint32_t a, std::uint32_t b) {
                                             return text(a) == text(b);
                                           }) != label.sorted.end();
  }
  return label.sorted;
}

std::vector<std::size_t> Store::SeriesInOrder(const Metric& m) {
  std::vector<std::size_t> out;
  const std::size_t n = m.labels.size();
  if (n == 0) {
    if (m.exists[0].load(std::memory_order_relaxed)) out.push_back(0);
    return out;
  }
  // Per label, in order of its values' text: the value's part of the series
  // index (the last label varies fastest, each in its radix).
  std::vector<std::vector<std::size_t>> parts(n);
  std::size_t weight = 1;
  bool ties = false;
  for (std::size_t l = n; l-- > 0;) {
    for (const std::uint32_t v : SortedValues(*m.labels[l])) parts[l].push_back(v * weight);
    ties |= m.labels[l]->sorted_ties;
    weight *= m.labels[l]->radix;
  }
  if (ties) {
    // Values of the same text: series are compared by their values' text.
    for (std::size_t s = 0; s < m.series_capacity; ++s) {
      if (m.exists[s].load(std::memory_order_relaxed)) out.push_back(s);
    }
    std::vector<std::vector<std::string_view>> values(m.series_capacity);
    for (const std::size_t s : out) values[s] = SeriesLabels(m, s);
    std::sort(out.begin(), out.end(),
              [&values](std::size_t a, std::size_t b) { return values[a] < values[b]; });
    return out;
  }
  // Every combination of the values met, the first label varying slowest:
  // series by their label values, without comparing a string per series.
  std::vector<std::size_t> digit(n, 0);
  std::vector<std::size_t> base(n + 1, 0);  // base[l]: the parts of labels before l
  for (;;) {
    for (std::size_t l = 0; l < n; ++l) base[l + 1] = base[l] + parts[l][digit[l]];
    const std::size_t last = n - 1;
    for (const std::size_t part : parts[last]) {
      const std::size_t s = base[last] + part;
      if (m.exists[s].load(std::memory_order_relaxed)) out.push_back(s);
    }
    std::size_t l = last;
    while (l-- > 0 && ++digit[l] == parts[l].size()) digit[l] = 0;
    if (l == SIZE_MAX) return out;
  }
}

std::vector<std::size_t> Store::ShownSeries(const Metric& m) const {
  if (!m.spec.latest_series_only) {
    // By label values, as Go's client orders them: the order then does not
    // depend on which shard met a value first.
    return SeriesInOrder(m);
  }
  std::size_t latest = m.series_capacity;  // the one to show
  std::uint64_t best = 0;
  for (std::size_t s = 0; s < m.series_capacity; ++s) {
    double value = 0;
    std::uint64_t stamp = 0;
    if (m.exists[s].load(std::memory_order_relaxed) && GaugeValue(m, s, &value, &stamp) &&
        stamp >= best) {
      best = stamp;
      latest = s;
    }
  }
  if (latest == m.series_capacity) return {};
  return {latest};
}

std::vector<Family> Store::Collect(bool with_exemplars) const {
  std::vector<Family> out;
  Collect(with_exemplars, &out, 0);
  return out;
}

std::size_t Store::Collect(bool with_exemplars, std::vector<Family>* families,
                           std::size_t first) const {
  std::lock_guard<std::mutex> lock(mutex_);
  // Each metric's series, in the order shown.
  std::vector<std::vector<std::size_t>> shown(metrics_.size());
  for (std::size_t k = 0; k < metrics_.size(); ++k) shown[k] = ShownSeries(*metrics_[k]);
  bool kept = false;  // any exemplar to show
  if (with_exemplars) {
    for (const auto& shard : shards_) {
      std::lock_guard<std::mutex> shard_lock(shard->exemplars_mutex_);
      kept = kept || shard->exemplars_.size != 0;
    }
  }
  // (Cells and ranks are numbered in 32 bits: 4 G cells, 32 GiB of them, are beyond any budget.)
  kept = kept && num_cells_ < UINT32_MAX;
  ExemplarIndex exemplars(kept ? ExemplarPool::Take(exemplar_pool_) : nullptr, num_cells_);
  if (kept) {
    for (std::size_t k = 0; k < metrics_.size(); ++k) {
      const Metric& m = *metrics_[k];
      const std::size_t cells = ExemplarCells(m.spec);
      for (const std::size_t s : shown[k]) {
        for (std::size_t i = 0; i < cells; ++i) {
          exemplars.Rank(m.first_cell + s * m.cells_per_series + i);
        }
      }
    }
    for (const auto& shard : shards_) {
      std::lock_guard<std::mutex> shard_lock(shard->exemplars_mutex_);
      exemplars.Reserve(shard->exemplars_.size);
      const std::vector<Shard::Kept>& slots = shard->exemplars_.slots;
      const std::vector<Shard::PooledLabel>& labels = shard->labels_;
      // The labels are where writers put them, not in the slots' order: at
      // 100,000 they are beyond the caches. Each is asked for some slots ahead.
      constexpr std::size_t kAhead = 16;
      for (std::size_t j = 0; j < slots.size(); ++j) {
        if (j + kAhead < slots.size() && slots[j + kAhead].label != 0) {
          __builtin_prefetch(&labels[slots[j + kAhead].label - 1]);
        }
        // The label's text copied now: a writer may reuse it once the lock is let go.
        const Shard::Kept& slot = slots[j];
        if (slot.label != 0) {
          const Shard::PooledLabel& label = labels[slot.label - 1];
          exemplars.Add(slot.cell, label.name(), label.value(), slot.observed,
                        slot.timestamp_seconds);
        }
      }
    }
    exemplars.Build();
  }
  if (families->size() < first + metrics_.size()) families->resize(first + metrics_.size());
  for (std::size_t k = 0; k < metrics_.size(); ++k) {
    const Metric& m = *metrics_[k];
    // Written over what the family held (a previous scrape's): its strings
    // and vectors keep their capacity, so a scrape allocates little.
    Family& family = (*families)[first + k];
    family.name = m.spec.name;
    family.help = m.spec.help;
    family.type = m.spec.type;
    if (family.series.size() < shown[k].size()) family.series.resize(shown[k].size());
    std::size_t n = 0;  // series written
    for (const std::size_t s : shown[k]) {
      const std::size_t first_cell = m.first_cell + s * m.cells_per_series;
      Series& series = family.series[n];
      series.value = 0;
      series.count = 0;
      series.sum = 0;
      series.exemplar = nullptr;
      series.native.reset();
      switch (m.spec.type) {
        case MetricType::kCounter:
          series.value = Sum(m, s, 0);
          series.exemplar = exemplars.Next(first_cell);
          series.buckets.clear();
          break;
        case MetricType::kGauge: {
          std::uint64_t stamp = 0;
          if (!GaugeValue(m, s, &series.value, &stamp)) continue;  // no invented value
          series.buckets.clear();
          break;
        }
        case MetricType::kHistogram: {
          const std::vector<double>& b = m.spec.buckets;
          std::uint64_t cumulative = 0;
          series.buckets.resize(b.size() + 1);
          for (std::size_t i = 0; i <= b.size(); ++i) {
            cumulative += Cell(m, s, i);
            series.buckets[i] = {cumulative,
                                 i < b.size() ? b[i] : std::numeric_limits<double>::infinity(),
                                 exemplars.Next(first_cell + i)};
          }
          series.count = cumulative;  // equals +Inf by construction
          series.sum = Sum(m, s, b.size() + 1);
          // After the classic cells: writers count in the native buckets first.
          if (m.spec.native.enabled) series.native = Native(m, s);
          break;
        }
      }
      // The label values, the last label varying fastest; the top index of
      // each label is its overflow.
      series.labels.resize(m.labels.size());
      std::size_t rest = s;
      for (std::size_t l = m.labels.size(); l-- > 0;) {
        const LabelTable& label = *m.labels[l];
        const std::size_t i = rest % label.radix;
        rest /= label.radix;
        // Mostly what the previous scrape wrote there: compared, not copied.
        Label& held = series.labels[l];
        const std::string& value = i + 1 == label.radix ? label.spec.overflow : label.values[i];
        if (held.name != label.spec.name) held.name = label.spec.name;
        if (held.value != value) held.value = value;
      }
      ++n;
    }
    family.series.resize(n);
  }
  return first + metrics_.size();
}

bool Store::Translate(const Metric& old, std::size_t s, std::size_t metric, Shard& shard,
                      std::size_t* out) {
  const Metric& m = *metrics_[metric];
  const std::vector<std::string_view> values = SeriesLabels(old, s);
  std::size_t series = 0;
  for (std::size_t l = 0; l < m.labels.size(); ++l) {
    bool overflow = false;
    const std::size_t i =
        shard.ResolveValue(shard.known_[shard.hot_[metric].first_known + l], values[l], &overflow);
    // A value the new allowlist leaves out is gone with the old config.
    if (overflow && m.labels[l]->spec.max_values <= m.labels[l]->spec.values.size()) return false;
    series = series * m.labels[l]->radix + i;
  }
  *out = series;
  return true;
}

void Store::Absorb(const Store& old) {
  Shard& base = *AddShard();
  std::lock_guard<std::mutex> old_lock(old.mutex_);
  for (std::size_t mi = 0; mi < metrics_.size(); ++mi) {
    Metric& m = *metrics_[mi];
    const Metric* from = nullptr;
    for (const auto& candidate : old.metrics_) {
      if (candidate->spec.name == m.spec.name) from = candidate.get();
    }
    if (from == nullptr || !SameShape(from->spec, m.spec)) continue;  // starts at 0
    for (std::size_t s = 0; s < from->series_capacity; ++s) {
      std::size_t series = 0;
      if (!from->exists[s].load(std::memory_order_relaxed) ||
          !Translate(*from, s, mi, base, &series)) {
        continue;
      }
      std::atomic<std::uint64_t>* cell = &base.cells_[m.first_cell + series * m.cells_per_series];
      switch (m.spec.type) {
        case MetricType::kCounter:
          m.exists[series].store(true, std::memory_order_relaxed);
          base.Write(static_cast<std::uint32_t>(mi), series, old.Sum(*from, s, 0), 1);
          break;
        case MetricType::kGauge: {
          double value = 0;
          std::uint64_t stamp = 0;
          if (!old.GaugeValue(*from, s, &value, &stamp)) break;
          m.exists[series].store(true, std::memory_order_relaxed);
          base.SetStamp(stamp);
          base.Write(static_cast<std::uint32_t>(mi), series, value, 1);
          break;
        }
        case MetricType::kHistogram: {
          m.exists[series].store(true, std::memory_order_relaxed);
          const std::size_t n = m.spec.buckets.size();
          for (std::size_t i = 0; i <= n; ++i) AddCount(cell[i], old.Cell(*from, s, i));
          const double sum = old.Sum(*from, s, n + 1);
          AddToSum(cell[n + 1], sums_ == SumMode::kExact ? cell + m.cells_per_series - 2 : nullptr,
                   sum);
          if (m.spec.native.enabled) {
            std::lock_guard<std::mutex> lock(base.native_mutex_);
            Shard::NativeSlot& slot = base.NativeSlotOf(cell + n + 2);
            MergeNative(&slot.histogram, old.Native(*from, s), slot.max_buckets);
          }
          break;
        }
      }
    }
  }
}

}  // namespace lle
