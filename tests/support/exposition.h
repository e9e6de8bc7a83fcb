#pragma once

#include <optional>
#include <string>

namespace lle::test {

/// The value of the sample whose name and labels are exactly `series` (as
/// printed, e.g. `qwen_requests_total{status="success"}`), or nullopt if absent.
std::optional<double> MetricValue(const std::string& exposition, const std::string& series);

/// Sum of every sample whose line starts with `prefix` (e.g. all results of a counter).
double SumOfSamples(const std::string& exposition, const std::string& prefix);

/// Series names the integration tests read: every received line's result by
/// source, and the built-in preset's requests by status.
std::string LinesSeries(const std::string& source, const std::string& result);
std::string RequestsSeries(const std::string& status);

/// True if `promtool check metrics` printed nothing but the two lint findings
/// that are accepted on purpose: the seed-compatible `_ms`/`_mb` names, kept so
/// existing dashboards keep working (DESIGN.md §3); promtool then exits 3
/// ("lint problems") rather than 1 (parse errors).
bool OnlyExpectedLintFindings(const std::string& promtool_output);

}  // namespace lle::test
