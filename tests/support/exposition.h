#pragma once

#include <gtest/gtest.h>

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

/// Runs `promtool check metrics` on `exposition`: success if it exits 0, or 3
/// ("lint problems", not 1 for parse errors) with nothing but the two lint
/// findings accepted on purpose: the seed-compatible `_ms`/`_mb` names, kept so
/// existing dashboards keep working (DESIGN.md §3). A failure shows promtool's
/// output and the exposition.
::testing::AssertionResult PromtoolAccepts(const std::string& promtool,
                                           const std::string& exposition);

}  // namespace lle::test
