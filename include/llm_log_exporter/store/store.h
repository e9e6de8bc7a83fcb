#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "llm_log_exporter/core/metric_spec.h"
#include "llm_log_exporter/exposition/family.h"

namespace lle {

class Store;
struct LabelTable;  // one label's values in a Store (store.cc)

/// How a Store adds up values (counters, `add` gauges, histogram sums).
/// kFast: in one double per shard, merged at scrape; the last digits of a
/// total then depend on which shard added which value. kExact: in a 128-bit
/// fixed-point number (units of 2^-80) per shard instead, so that the merged
/// total is the same whatever the split and rounded once: `--once` output is
/// byte-for-byte reproducible. It holds every value from 2^-28 up to 2^47
/// with a full 53-bit mantissa (short decimals well beyond); whole numbers
/// under 2^52, and values it cannot hold, go to the double beside it (whole
/// numbers add up exactly there, in any order, while the total stays under 2^53).
enum class SumMode : std::uint8_t { kFast, kExact };

/// How a series' cells take a value: a metric's type and gauge mode in one.
enum class CellKind : std::uint8_t {
  kCounter,
  kGaugeSet,
  kGaugeMax,
  kGaugeAdd,
  kHistogram,
  kNativeHistogram,  // a histogram with native buckets too (NativeSpec::enabled)
};

/// One series of one metric in one Shard, resolved once (Shard::Bind) for a
/// writer that updates it on every line. Plain data; null cells: writes are
/// ignored.
struct BoundSeries {
  std::atomic<std::uint64_t>* cells = nullptr;
  const double* bounds = nullptr;  // histograms: buckets padded with +Inf to a multiple of 4
  std::uint32_t num_bounds = 0;    // padded
  std::uint32_t sum_cell = 0;      // histograms: index of the sum among the cells
                                   // (native: the next cell numbers its NativeSlot)
  std::uint32_t exact_cell = 0;    // SumMode::kExact: the exact part's 2 cells (0: none)
  CellKind kind = CellKind::kCounter;
};

/// The request a line came from, for the exemplars of what it writes: the
/// label (trace_id or request_id, its value at most kMaxExemplarRunes code
/// points with the name, checked by the caller: ExemplarFrom) and when it was
/// read. Views, valid for the call that takes it.
struct ExemplarRef {
  std::string_view name;
  std::string_view value;
  double timestamp_seconds = 0;
};

/// What ExemplarFrom made of a field's text.
enum class ExemplarCheck : std::uint8_t {
  kAbsent,   // empty: no exemplar
  kUsed,     // *out holds it
  kTooLong,  // over kMaxExemplarRunes code points with the label name: dropped
  kRefused,  // not UTF-8, a control character, or a malformed traceparent: dropped
};

/// `text` (a request line's field) as the exemplar `name`="...": for
/// trace_id, a W3C traceparent ("00-<32 hex trace id>-<16 hex>-<2 hex>") gives
/// its trace-id part, other text is taken as it is. Pure function; `out`
/// views `name` and `text`.
ExemplarCheck ExemplarFrom(std::string_view name, std::string_view text, double timestamp_seconds,
                           ExemplarRef* out);

/// The aggregates written by one thread: plain cells, no lock and no allocation
/// per update (but for updates with an exemplar, which take the shard's
/// exemplar mutex, shared with scrapes, and may allocate). Owned by its Store;
/// use from a single writer thread only (the store reads it concurrently at
/// scrape time). Cache-line aligned, so that writers of neighbouring shards do
/// not share lines.
class alignas(64) Shard {
 public:
  /// Applies updates in order. Never throws; updates to unknown metrics are ignored.
  void Apply(const Update* updates, std::size_t n);
  void Apply(const Update& update) { Apply(&update, 1); }
  /// Series `series` of `metric` (an index into its initial series, as in
  /// Update::series), for Write; an unknown one ignores writes.
  BoundSeries Bind(std::uint32_t metric, std::uint32_t series) const;
  /// For each bit i of `mask`: what Apply does with value values[i] for the
  /// series that series[i] is bound to. The hot path of request lines: no
  /// lookup per write.
  void Write(const BoundSeries* series, const double* values, std::uint64_t mask);
  /// Apply and Write, and each counter or histogram bucket they add to keeps
  /// `exemplar` (with the value it adds) as its latest in this shard. Only
  /// lines with an exemplar take these: the others pay nothing for them.
  void Apply(const Update* updates, std::size_t n, const ExemplarRef& exemplar);
  void Write(const BoundSeries* series, const double* values, std::uint64_t mask,
             const ExemplarRef& exemplar);
  /// Apply and Write (with `exemplar`, or none if null) for a sampled line
  /// that stands for `times` requests: counters and `add` gauges add
  /// value × times, a histogram's bucket counts `times` more and its sum adds
  /// value × times; a gauge's last value or maximum is written as it is.
  void Apply(const Update* updates, std::size_t n, const ExemplarRef* exemplar,
             std::uint64_t times);
  void Write(const BoundSeries* series, const double* values, std::uint64_t mask,
             const ExemplarRef* exemplar, std::uint64_t times);
  /// Orders gauge writes across shards: the latest stamp wins at scrape (e.g. ns of wall time).
  void SetStamp(std::uint64_t stamp) { stamp_ = stamp; }

 private:
  friend class Store;
  explicit Shard(Store& store);
  // This shard's cache of one label's table of values in the store: views of
  // the store's strings, which never move (the table is reserved up front).
  struct Known {
    LabelTable* label;
    std::size_t radix;
    std::vector<std::string_view> values;
  };
  // The series of `labels` (one per label of `metric`), counting refusals.
  std::size_t ResolveSeries(std::uint32_t metric, const std::string_view* labels);
  std::size_t ResolveValue(Known& known, std::string_view value, bool* overflow);

  // A series' native buckets, in natives_; with them, its max_buckets.
  struct NativeSlot {
    NativeHistogram histogram;
    std::uint32_t max_buckets = 0;
  };
  // The slot numbered by `cell` (a native histogram's cell after its sum),
  // made on first use; the caller holds native_mutex_.
  NativeSlot& NativeSlotOf(std::atomic<std::uint64_t>* cell);
  // WriteCells for a histogram with native buckets: those, then the classic
  // cells. Out of line, so that the other kinds' path stays as it was.
  [[gnu::cold, gnu::noinline]] std::atomic<std::uint64_t>* WriteNative(const BoundSeries& series,
                                                                       double value,
                                                                       std::uint64_t times);

  // Both return the cell that counts the value (a counter's, a histogram's
  // bucket), for its exemplar; null for gauges and refused values.
  std::atomic<std::uint64_t>* Write(std::uint32_t metric, std::size_t series, double value,
                                    std::uint64_t times);
  std::atomic<std::uint64_t>* WriteCells(const BoundSeries& series, double value,
                                         std::uint64_t times);
  template <bool kExemplar>
  void ApplyUpdates(const Update* updates, std::size_t n, const ExemplarRef* exemplar,
                    std::uint64_t times);
  // Keeps label `label` (a number from ExemplarLabel) with `value` and
  // `timestamp` as the latest exemplar of cells_[cell]; the caller holds
  // exemplars_mutex_.
  void KeepExemplar(std::size_t cell, double value, std::uint32_t label, double timestamp);
  // The number of `exemplar`'s label in labels_, shared by the cells one line
  // writes (the last one's again if equal). Both: the caller holds
  // exemplars_mutex_.
  std::uint32_t ExemplarLabel(const ExemplarRef& exemplar);
  void Unref(std::uint32_t label);

  // An exemplar label, counted by the Kept slots and last_label_ that hold
  // its number; at 0 it is free, and is reused. Its text (name, then value)
  // lies in the entry itself up to kInline bytes (a trace id with its name
  // takes 40), so that a scrape copying labels out meets one cache miss per
  // label, not two; longer text goes to `spill` (no allocation per line once
  // its capacity fits).
  struct PooledLabel {
    static constexpr std::size_t kInline = 116;
    std::uint32_t refs = 0;
    std::uint32_t name_size = 0;
    std::uint32_t value_size = 0;
    char text[kInline];
    std::string spill;
    void Assign(std::string_view name, std::string_view value);
    const char* data() const { return name_size + value_size <= kInline ? text : spill.data(); }
    std::string_view name() const { return {data(), name_size}; }
    std::string_view value() const { return {data() + name_size, value_size}; }
  };
  // The latest exemplar of a cell (a counter's value, a histogram bucket).
  struct Kept {
    std::size_t cell = 0;
    std::uint32_t label = 0;  // 1 + its index in labels_; 0: the slot is free
    double observed = 0;
    double timestamp_seconds = 0;
  };
  // Kept by cell: open addressing with linear probing, a power-of-two number
  // of slots at most half full. A line writes a dozen cells: std::unordered_map
  // cost more than the rest of the line.
  struct KeptTable {
    std::vector<Kept> slots;
    std::size_t size = 0;
    Kept& At(std::size_t cell);
    void Grow();  // twice the slots (64 at first), the kept ones placed again
  };

  // What Apply needs of one metric, packed and resolved to this shard's cells:
  // the hot path reads one of these instead of the store's metric and spec.
  struct Hot {
    BoundSeries series0;        // its first series; the others follow
    std::atomic<bool>* exists;  // null: the one series exists from the start
    const std::uint32_t* initial_series;
    std::uint32_t num_initial;
    std::uint32_t cells_per_series;
    std::uint32_t first_known;  // its labels' Known entries in known_
    std::uint32_t num_labels;
  };

  Store& store_;
  std::uint64_t stamp_ = 1;
  std::vector<std::atomic<std::uint64_t>> cells_;  // counts, or doubles as bits
  std::vector<Hot> hot_;                           // per metric
  std::vector<Known> known_;                       // per label of each metric in turn
  // Exemplars: written by the shard's writer, read by scrapes. Lines without
  // one never touch them.
  mutable std::mutex exemplars_mutex_;  // guards the three below
  KeptTable exemplars_;
  std::vector<PooledLabel> labels_;
  std::vector<std::uint32_t> free_labels_;  // numbers of entries with refs 0
  std::uint32_t last_label_ = 0;            // ExemplarLabel's last, counted (0: none)
  // Native buckets: written by the shard's writer, read by scrapes, under
  // native_mutex_. A native histogram series' cell after its sum holds 1 +
  // its index here (0: none yet); entries are never removed.
  mutable std::mutex native_mutex_;
  std::deque<NativeSlot> natives_;
};

/// All metric series of one spec list: per-writer Shards merged at scrape.
/// Caps label values and, when any metric is dynamic, counts refusals in
/// llm_log_exporter_label_overflow_total{metric}. Thread-safe.
class Store {
 public:
  /// `shards`: writers' shards allocated now rather than by AddShard, so that
  /// a store too large for memory throws std::bad_alloc here, not in a writer.
  explicit Store(std::vector<MetricSpec> specs, SumMode sums = SumMode::kFast,
                 std::size_t shards = 0);
  ~Store();

  /// The most memory a store can take for `spec` with `shards` writer shards:
  /// every series its label caps allow, in each shard, and each label at its
  /// cap of values of the longest length. For a budget checked before a store is built.
  static std::size_t MaxBytes(const MetricSpec& spec, std::size_t shards,
                              SumMode sums = SumMode::kFast);

  /// A new writer's shard (one allocated up front, while any is left), owned by the store.
  Shard* AddShard();
  /// The merged state of every shard, one family per spec plus the overflow
  /// counter, each family's series ordered by their label values (as Go's
  /// client orders them); exemplars (unless `with_exemplars` is false, for
  /// a format that shows none): each cell's newest over the shards.
  std::vector<Family> Collect(bool with_exemplars = true) const;
  /// The same families written over (*families)[first, first + families()),
  /// which it adds if missing: a vector kept from the previous scrape is
  /// reused, its strings and vectors with their capacity. Returns first +
  /// families().
  std::size_t Collect(bool with_exemplars, std::vector<Family>* families, std::size_t first) const;
  /// The number of families Collect writes: one per spec, and the overflow counter's.
  std::size_t families() const { return metrics_.size(); }
  /// Adds the series of `old`'s metrics that have a namesake here of the same
  /// type, gauge mode, labels and buckets (a reload keeps their values). The
  /// caller ensures that nothing writes to `old` any more.
  void Absorb(const Store& old);

  /// Where a scrape's exemplars are copied (store.cc's; a Family's pointers
  /// share one), and the blocks no family shows any more, to be written over.
  struct ExemplarBlock;
  struct ExemplarPool;

 private:
  friend class Shard;
  struct Metric {
    MetricSpec spec;
    std::vector<std::unique_ptr<LabelTable>> labels;
    std::size_t first_cell = 0;
    std::size_t cells_per_series = 0;
    std::size_t series_capacity = 1;              // the product of the labels' radixes
    std::unique_ptr<std::atomic<bool>[]> exists;  // per series: shown once written
    bool labelled = false;                        // else the one series exists from the start
    // Update::series (an index into the combinations of initial values) → series.
    std::vector<std::uint32_t> initial_series;
    std::vector<double> padded_bounds;  // spec.buckets, then +Inf up to a multiple of 4
    std::size_t overflow_series = 0;    // index into the overflow counter's series
  };
  // The label values of series `s` of `m`; the caller holds mutex_ (tables grow under it).
  static std::vector<std::string_view> SeriesLabels(const Metric& m, std::size_t s);
  // The indices of label's values met and of its overflow value, in order of
  // their text; the caller holds mutex_.
  static const std::vector<std::uint32_t>& SortedValues(const LabelTable& label);
  // The series of `m` that exist, in order of their label values (each
  // label's in turn); the caller holds mutex_.
  static std::vector<std::size_t> SeriesInOrder(const Metric& m);
  // The series of `m` a scrape shows, in its order: SeriesInOrder, or for a
  // metric that shows its latest series only, that one; the caller holds mutex_.
  std::vector<std::size_t> ShownSeries(const Metric& m) const;
  // Series index of `old`'s series `s` here, or false if it has no place here.
  bool Translate(const Metric& old, std::size_t s, std::size_t metric, Shard& shard,
                 std::size_t* out);
  std::uint64_t Cell(const Metric& m, std::size_t s, std::size_t i) const;  // merged
  bool GaugeValue(const Metric& m, std::size_t s, double* value, std::uint64_t* stamp) const;
  // Cell `i` of series `s` of `m` (a sum of doubles) merged over the shards:
  // from the exact sums when the store keeps them and every one is exact.
  double Sum(const Metric& m, std::size_t s, std::size_t i) const;
  // The native buckets of series `s` of `m` merged over the shards.
  NativeHistogram Native(const Metric& m, std::size_t s) const;

  std::vector<std::unique_ptr<Metric>> metrics_;
  std::size_t num_cells_ = 0;
  std::size_t overflow_metric_ = SIZE_MAX;  // index of the overflow counter, if any
  SumMode sums_;
  mutable std::mutex mutex_;  // guards shards_, spare_ and appends to label tables
  std::vector<std::unique_ptr<Shard>> shards_;
  std::vector<std::unique_ptr<Shard>> spare_;  // allocated up front, not yet handed out
  // Shared with the blocks handed out: the last pointer to one returns it
  // here, also after the store has gone.
  std::shared_ptr<ExemplarPool> exemplar_pool_;
};

}  // namespace lle
