#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "llm_log_exporter/core/metric_spec.h"
#include "llm_log_exporter/parse/text_rule.h"

namespace re2 {
class RE2;
}

namespace lle {

/// A test a request line must pass for a rule to apply.
struct Condition {
  enum class Op : std::uint8_t {
    kEquals,
    kNotEquals,
    kExists,
    kAbsent,
    kRegex,
    kNotRegex,
    kIn,
    kNotIn
  };
  int field = -1;  // index into RuleSet::fields
  Op op = Op::kExists;
  std::string text;         // kEquals/kNotEquals against a string field
  bool has_number = false;  // kEquals/kNotEquals against a number field
  double number = 0;
  /// kRegex: a string field whose whole text matches; kNotRegex: anything else
  /// (absent, not a string, or not matching).
  std::shared_ptr<const re2::RE2> regex;
  /// kIn: a string field equal to one of these; kNotIn: anything else. A few
  /// compares, where a regex costs a search (the preset's health-check routes).
  std::vector<std::string> strings;
  /// Bit n: some string is n bytes long (bit 63: 63 or more), so most values
  /// are told apart from the list by their length alone.
  std::uint64_t string_lengths = 0;
};

/// Where a rule's value comes from.
enum class ValueSource : std::uint8_t {
  kOne,       // 1 per matching line
  kField,     // the field's number
  kRatio,     // field / divisor_field, when the divisor is > 0
  kSum,       // field + divisor_field (both present numbers)
  kReadTime,  // wall time at which the line was read, in seconds
};

/// Which lines a rule looks at.
enum class Signal : std::uint8_t {
  kRecord,              // records (fields, filters, labels as configured): see MetricRule::record
  kLogLevel,            // any line with a log level: counter with label `level`
  kException,           // each Python traceback, once: counter with label `type`
  kSensitive,           // lines that look like they carry secrets: counter with label `kind`
  kSystemPrompt,        // gauge 1 with label `hash`: the system prompt in use
  kSystemPromptChange,  // counter: the system prompt changed
};

/// RuleSet::records[kRequestRecord]: JSON request lines, and the text lines
/// of rules with `record: request`.
inline constexpr std::uint32_t kRequestRecord = 0;

/// Where one label's value comes from: a string field, else `default_value`.
struct LabelSource {
  int field = -1;
  std::string default_value = "unknown";
};

/// How a record (or a signal) updates one metric.
struct MetricRule {
  std::uint32_t metric = 0;  // index into RuleSet::metrics
  Signal signal = Signal::kRecord;
  std::uint32_t record = kRequestRecord;  // kRecord: index into RuleSet::records
  ValueSource source = ValueSource::kOne;
  int field = -1;          // kField, kRatio
  int divisor_field = -1;  // kRatio: the divisor; kSum: the second term
  double scale = 1;
  // Division, not × 0.001: 300 / 1000 is exactly the double 0.3 (a bucket
  // bound), 300 × 0.001 is not, and would miss the `le="0.3"` bucket.
  double divide_by = 1;
  std::vector<LabelSource> labels;    // one per label of the metric, in order
  std::vector<Condition> conditions;  // all must hold
};

/// A complete mapping from log lines to metrics: the fields to extract (paths,
/// `a.b` for nested objects; a text rule's named groups), which keys make a
/// JSON line a request, the text rules, the metric families and the rules
/// that feed them. An immutable value once built.
struct RuleSet {
  std::string prefix;  // of the metric names: the config's namespace and "_"
  std::vector<std::string> fields;
  std::vector<std::string> request_keys;
  /// Conversions of JSON request lines' fields (`requests.fields`).
  std::vector<FieldConversion> request_conversions;
  /// A JSON line with a request key is a request only if these all hold
  /// (`requests.match`); else it is an event.
  std::vector<Condition> request_conditions;
  /// Kinds of records metric rules read (`from:`): "request" first, then the
  /// other `record:` names of text rules.
  std::vector<std::string> records = {"request"};
  std::vector<TextRule> text_rules;
  /// Fields that may name a JSON line's log level (kLogLevel rules), in RuleSet::fields.
  std::vector<int> level_fields;
  /// system_prompt_hash and system_prompt (kSystemPrompt* rules), or -1.
  int prompt_hash_field = -1;
  int prompt_field = -1;
  /// Fields that name a JSON request line's exemplar (`requests.trace_id_fields`,
  /// then `requests.request_id_fields`), in RuleSet::fields: the first present
  /// gives it, under the label `label`.
  struct ExemplarField {
    int field;
    const char* label;  // "trace_id" or "request_id"
  };
  std::vector<ExemplarField> exemplar_fields;
  /// Fields that give a request line's sample rate (`requests.sample_rate_fields`;
  /// a text rule's request match may capture them), in RuleSet::fields: the
  /// first present gives it, a number in (0, 1]; the line then counts as
  /// 1/rate requests.
  std::vector<int> sample_rate_fields;
  std::vector<MetricSpec> metrics;
  std::vector<MetricRule> rules;
};

/// Bucket generators (upper bounds, ascending).
/// start × 1, 2, 5, 10, 20, 50, … below max, then max itself.
std::vector<double> OneTwoFiveBuckets(double max, double start = 1);
std::vector<double> LinearBuckets(double start, double width, std::size_t count);
std::vector<double> ExponentialBuckets(double start, double factor, std::size_t count);

}  // namespace lle
