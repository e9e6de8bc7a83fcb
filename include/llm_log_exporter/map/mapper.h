#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "llm_log_exporter/core/metric_spec.h"
#include "llm_log_exporter/map/metric_rules.h"
#include "llm_log_exporter/parse/log_level.h"
#include "llm_log_exporter/parse/sensitive.h"
#include "llm_log_exporter/parse/traceback.h"
#include "llm_log_exporter/parse/vllm_stats.h"
#include "llm_log_exporter/parse/record.h"

namespace lle {

/// Rules a RuleSet may have (the config loader refuses more), so that one
/// line's updates always fit a batch.
inline constexpr std::size_t kMaxRules = 64;
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

/// The values of a line's request rules that have no labels, by request rule
/// (Mapper::DirectMetrics): bit i of `fired` says value[i] is set. They go
/// straight to their series (Shard::Write) instead of through Updates.
struct DirectValues {
  std::uint64_t fired = 0;
  double value[kMaxRules];
};
static_assert(kMaxRules <= 64, "DirectValues::fired has a bit per rule");

/// Turns a parsed request line into metric updates following a RuleSet, and
/// counts unusable fields in llm_log_exporter_field_errors_total{field,reason}.
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

  /// Appends the updates for one request line read at `now_seconds`. With
  /// `direct`, the rules without labels set their values there instead (its
  /// bits from earlier lines cleared first).
  void Map(const Record& record, double now_seconds, UpdateBatch& out,
           DirectValues* direct = nullptr) const;
  /// Per request rule, in DirectValues order: the metric id its value goes
  /// to (the metric's one series, or its first initial one), or kNoMetric if
  /// it has labels and always makes an Update.
  static constexpr std::uint32_t kNoMetric = ~std::uint32_t{0};
  std::vector<std::uint32_t> DirectMetrics() const;

  /// Which non-request signals some rule reads (so the pipeline looks for them).
  bool wants_levels() const { return !level_rules_.empty(); }
  bool wants_exceptions() const { return !exception_rules_.empty(); }
  bool wants_stats() const { return !stats_rules_.empty(); }
  bool wants_sensitive() const { return !sensitive_rules_.empty(); }
  /// The level a JSON line names in one of RuleSet::level_fields, if any.
  LogLevel JsonLevel(const Record& record) const;
  void MapLevel(LogLevel level, UpdateBatch& out) const;
  void MapException(std::string_view type, UpdateBatch& out) const;
  void MapStats(const VllmStats& stats, UpdateBatch& out) const;
  void MapSensitive(SensitiveKinds kinds, UpdateBatch& out) const;
  bool wants_system_prompt() const {
    return !prompt_rules_.empty() || !prompt_change_rules_.empty();
  }
  /// What names a request line's system prompt: `system_prompt_hash` as given,
  /// else a hash (FNV-1a, 16 hex digits written to `buffer`) of `system_prompt`,
  /// whose text is never kept. Empty if the line has neither as a string.
  std::string_view PromptHash(const Record& record, char (&buffer)[16]) const;
  /// `hash` is in use; `changed`: it differs from the one before it.
  /// `hash` must stay valid until the updates are applied.
  void MapSystemPrompt(const std::string_view& hash, bool changed, UpdateBatch& out) const;

 private:
  enum Reason : std::uint32_t { kMissing, kWrongType, kOutOfRange, kNegative, kNumReasons };
  enum class Use : std::uint8_t { kFilter, kNumber, kLabel };  // what a field must hold
  void FieldError(int field, Reason reason, UpdateBatch& out) const;
  bool Matches(const MetricRule& rule, const Record& record) const;

  // A request rule flattened for the per-line loop, which would otherwise chase
  // the MetricRule's vectors for every rule of every line.
  struct RequestRule {
    const MetricRule* rule;
    std::uint32_t metric;  // in updates: first_metric_ + rule->metric
    std::uint32_t direct;  // its index in DirectValues (the rule order)
    ValueSource source;
    bool counter;   // a negative value is refused
    bool filtered;  // has conditions
    bool scaled;    // scale or divide_by is not 1
    int field;
    int divisor_field;
    double scale;
    double divide_by;
  };
  // kField: whether `value` is the rule's value: a number, and not a negative
  // one for a counter, which is counted as a field error (in `out`, whose
  // size Map keeps in `*size`).
  bool HasValue(const RequestRule& r, const FieldValue& value, UpdateBatch& out,
                std::size_t* size) const;
  struct CheckedField {  // a field read as a value or label: errors are counted
    int field;
    Use use;
  };

  RuleSet rules_;
  std::uint32_t first_metric_;
  std::uint32_t field_errors_metric_;
  std::vector<MetricSpec> specs_;
  std::vector<std::uint32_t> checked_;  // per field: its index in field_errors' `field` label
  std::vector<CheckedField> checked_fields_;
  // Plain rules first (a field's value, no filter, no labels: most rules),
  // which with DirectValues take a loop of their own; then the others.
  std::vector<RequestRule> request_rules_;
  std::size_t num_plain_ = 0;
  std::vector<std::uint32_t> level_rules_;  // indices into rules_.rules, by signal
  std::vector<std::uint32_t> exception_rules_;
  std::vector<std::uint32_t> stats_rules_;
  std::vector<std::uint32_t> sensitive_rules_;
  std::vector<std::uint32_t> prompt_rules_;
  std::vector<std::uint32_t> prompt_change_rules_;
};

}  // namespace lle
