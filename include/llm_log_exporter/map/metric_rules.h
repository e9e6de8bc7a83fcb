#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "llm_log_exporter/core/metric_spec.h"

namespace lle {

/// How a rule turns a request line into an update of its metric.
enum class RuleKind : std::uint8_t {
  kCountLine,     // counter += 1; label from `label_field` (string) else `label_default`
  kAddField,      // counter += field × scale / divide_by; negative values refused
  kObserveField,  // histogram observes field × scale / divide_by
  kSetField,      // gauge = field × scale / divide_by
  kObserveRatio,  // histogram observes field / divisor_field / divide_by, when divisor > 0
  kSetLineTime,   // gauge = wall time the line was read, in seconds
};

struct MetricRule {
  std::uint32_t metric = 0;  // index into RuleSet::metrics
  RuleKind kind = RuleKind::kCountLine;
  int field = -1;          // index into RuleSet::fields
  int divisor_field = -1;  // kObserveRatio only
  double scale = 1;
  // Division, not × 0.001: 300 / 1000 is exactly the double 0.3 (a bucket
  // bound), 300 × 0.001 is not, and would miss the `le="0.3"` bucket.
  double divide_by = 1;
  int label_field = -1;  // kCountLine: field whose string value is the label
  std::string label_default = "unknown";
};

/// A complete mapping from log lines to metrics: the fields to extract, which
/// keys make a line a request, the metric families and the rules that feed them.
/// An immutable value once built.
struct RuleSet {
  std::vector<std::string> fields;
  std::vector<std::string> request_keys;
  std::vector<MetricSpec> metrics;
  std::vector<MetricRule> rules;
};

/// Bucket generators (upper bounds, ascending).
std::vector<double> OneTwoFiveBuckets(double max);  // 1, 2, 5, 10, …, then max itself

}  // namespace lle
