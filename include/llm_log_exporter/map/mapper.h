#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "llm_log_exporter/core/metric_spec.h"
#include "llm_log_exporter/map/metric_rules.h"
#include "llm_log_exporter/parse/log_level.h"
#include "llm_log_exporter/parse/record.h"
#include "llm_log_exporter/parse/sensitive.h"
#include "llm_log_exporter/parse/traceback.h"

namespace lle {

/// Rules a RuleSet may have (the config loader refuses more), so that one
/// line's updates always fit a batch.
inline constexpr std::size_t kMaxRules = 128;
/// Rules of request records, the kind whose rules without labels write
/// DirectValues (one bit each).
inline constexpr std::size_t kMaxRequestRules = 64;
/// Upper bound on the updates one line produces: per rule, one update (a
/// sensitive-data rule: one per kind, 4) or a `negative` field error; one
/// other field error per field.
inline constexpr std::size_t kMaxUpdatesPerLine = kMaxRules * 4 + kMaxFields;

/// A fixed-capacity list of updates and of the label values they point to:
/// no allocation per line.
struct UpdateBatch {
  static constexpr std::size_t kMaxLabelValues = kMaxRules * kMaxLabels;
  std::size_t size = 0;
  std::size_t label_size = 0;
  Update items[kMaxUpdatesPerLine];
  std::string_view label_values[kMaxLabelValues];
  void Clear() { size = label_size = 0; }
  void Add(const Update& u) {
    if (size < kMaxUpdatesPerLine) items[size++] = u;
  }
};

/// The values of a request record's rules that have no labels, by rule
/// (Mapper::DirectMetrics): bit i of `fired` says value[i] is set. They go
/// straight to their series (Shard::Write) instead of through Updates.
/// Also Mapper::Map's memory of the last line's shape. One per pipeline.
struct DirectValues {
  std::uint64_t fired = 0;
  double value[kMaxRequestRules];
  /// The rules (indices into the kind's) that a line with these fields can
  /// fire, as Map last worked them out; mapper 0 is none.
  struct Shape {
    std::uint64_t mapper = 0;  // Mapper::id_
    std::uint32_t kind = 0;
    std::uint64_t present = 0;  // Record::present()
    std::uint64_t numbers = 0;  // Record::numbers()
    std::uint32_t num_rules = 0;
    std::uint8_t rules[kMaxRules];
  } shape;
};
static_assert(kMaxRequestRules <= 64, "DirectValues::fired has a bit per rule");

/// Turns records (a JSON request line, a text rule's match) into metric
/// updates following a RuleSet, and counts unusable fields in
/// llm_log_exporter_field_errors_total{field,reason}.
/// Immutable after construction: safe to share between threads.
class Mapper {
 public:
  /// Metric ids in updates are `first_metric` + index into `Specs()`.
  Mapper(RuleSet rules, std::uint32_t first_metric);
  // Its flattened rules point into its own RuleSet: a move keeps them valid
  // (the vectors' buffers move), a copy would not.
  Mapper(const Mapper&) = delete;
  Mapper& operator=(const Mapper&) = delete;
  Mapper(Mapper&&) = default;
  Mapper& operator=(Mapper&&) = default;

  /// The rule set's metrics followed by the field-error counter.
  const std::vector<MetricSpec>& Specs() const { return specs_; }
  const RuleSet& Rules() const { return rules_; }

  /// Appends the updates of the rules `from:` record kind `kind` (an index
  /// into RuleSet::records) for one record read at `now_seconds`. A JSON line
  /// (`from_text` false) counts its missing value fields as errors; a text
  /// rule's match has only the fields its rule captures, and does not. With
  /// `direct` (request records only), the rules without labels set their
  /// values there instead (its bits from earlier records cleared first).
  void Map(const Record& record, std::uint32_t kind, bool from_text, double now_seconds,
           UpdateBatch& out, DirectValues* direct = nullptr) const;
  /// A JSON request line.
  void Map(const Record& record, double now_seconds, UpdateBatch& out,
           DirectValues* direct = nullptr) const {
    Map(record, kRequestRecord, false, now_seconds, out, direct);
  }
  /// Per rule of request records, in DirectValues order: the metric id its
  /// value goes to (the metric's one series, or its first initial one), or
  /// kNoMetric if it has labels and always makes an Update.
  static constexpr std::uint32_t kNoMetric = ~std::uint32_t{0};
  std::vector<std::uint32_t> DirectMetrics() const;

  /// Whether a JSON line with a request key passes `requests.match`.
  bool IsRequest(const Record& record) const {
    return rules_.request_conditions.empty() || Matches(rules_.request_conditions, record);
  }

  /// Which non-request signals some rule reads (so the pipeline looks for them).
  bool wants_levels() const { return !level_rules_.empty(); }
  bool wants_exceptions() const { return !exception_rules_.empty(); }
  bool wants_sensitive() const { return !sensitive_rules_.empty(); }
  /// The level a JSON line names in one of RuleSet::level_fields, if any.
  LogLevel JsonLevel(const Record& record) const;
  void MapLevel(LogLevel level, UpdateBatch& out) const;
  void MapException(std::string_view type, UpdateBatch& out) const;
  void MapSensitive(SensitiveKinds kinds, UpdateBatch& out) const;
  bool wants_system_prompt() const {
    return !prompt_rules_.empty() || !prompt_change_rules_.empty();
  }
  /// What names a request line's system prompt: `system_prompt_hash` as given,
  /// else a hash (FNV-1a, 16 hex digits written to `buffer`) of `system_prompt`,
  /// whose text is never kept. Empty if the line has neither as a string.
  std::string_view PromptHash(const Record& record, char (&buffer)[16]) const;
  /// `hash` is in use. `hash` must stay valid until the updates are applied.
  void MapSystemPrompt(const std::string_view& hash, UpdateBatch& out) const;
  /// A request line's exemplar or sample-rate field (RuleSet::exemplar_fields,
  /// sample_rate_fields) was not used: out of its range (an exemplar over its
  /// length, a rate outside (0, 1]), else of the wrong type. Counted if the
  /// rule set checks any field (else the field errors counter has no labels).
  void MapUnusableField(int field, bool out_of_range, UpdateBatch& out) const;
  /// The id of llm_log_exporter_field_errors_total in updates.
  std::uint32_t field_errors_metric() const { return field_errors_metric_; }
  /// The system prompt changed `changes` times (> 0).
  void MapPromptChanges(std::uint64_t changes, UpdateBatch& out) const;

 private:
  enum Reason : std::uint32_t { kMissing, kWrongType, kOutOfRange, kNegative, kNumReasons };
  enum class Use : std::uint8_t { kFilter, kNumber, kLabel };  // what a field must hold
  void FieldError(int field, Reason reason, UpdateBatch& out) const;
  static bool Matches(const std::vector<Condition>& conditions, const Record& record);

  // A request rule flattened for the per-line loop, which would otherwise chase
  // the MetricRule's vectors for every rule of every line.
  struct RequestRule {
    const MetricRule* rule;
    std::uint32_t metric;  // in updates: first_metric_ + rule->metric
    std::uint32_t direct;  // its index in DirectValues (the rule order)
    std::uint64_t needs;   // the fields that must be numbers for it to fire (Record::numbers)
    std::uint64_t exists;  // the fields its `exists: true` conditions name
    std::uint64_t absent;  // and its `exists: false` ones
    ValueSource source;
    bool counter;   // a negative value is refused
    bool filtered;  // has conditions other than exists
    bool scaled;    // scale or divide_by is not 1
    int field;
    int divisor_field;
    double scale;
    double divide_by;
    std::vector<Condition> conditions;  // those other conditions
  };
  // kField: whether `value` (a number) is the rule's value: not a negative
  // one for a counter, which is counted as a field error (in `out`, whose
  // size Map keeps in `*size`).
  bool HasValue(const RequestRule& r, const FieldValue& value, UpdateBatch& out,
                std::size_t* size) const;
  // The rules of one record kind. Plain rules first (a field's value, no
  // filter, no labels: most rules), which with DirectValues take a loop of
  // their own; then the others.
  struct Kind {
    std::vector<RequestRule> rules;
    std::size_t num_plain = 0;
    // Fields read as values or labels, by bit: their errors are counted.
    std::uint64_t number_use = 0;
    std::uint64_t label_use = 0;
    // Fields whose absence is an error: some rule reads the value without a
    // `match: {field: ..., exists: true}` that makes it optional.
    std::uint64_t required = 0;
  };

  RuleSet rules_;
  std::uint32_t first_metric_;
  std::uint64_t id_;  // unique per constructed Mapper (moves keep it): keys DirectValues::Shape
  std::uint32_t field_errors_metric_;
  std::vector<MetricSpec> specs_;
  std::vector<std::uint32_t> checked_;      // per field: its index in field_errors' `field` label
  std::vector<bool> is_checked_;            // per field: has field_errors series from the start
  std::vector<Kind> kinds_;                 // by RuleSet::records index
  std::vector<std::uint32_t> level_rules_;  // indices into rules_.rules, by signal
  std::vector<std::uint32_t> exception_rules_;
  std::vector<std::uint32_t> sensitive_rules_;
  std::vector<std::uint32_t> prompt_rules_;
  std::vector<std::uint32_t> prompt_change_rules_;
};

}  // namespace lle
