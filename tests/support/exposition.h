#pragma once

#include <optional>
#include <string>

namespace lle::test {

/// The value of the sample whose name and labels are exactly `series` (as
/// printed, e.g. `qwen_requests_total{status="success"}`), or nullopt if absent.
std::optional<double> MetricValue(const std::string& exposition, const std::string& series);

/// Sum of every sample whose line starts with `prefix` (e.g. all results of a counter).
double SumOfSamples(const std::string& exposition, const std::string& prefix);

}  // namespace lle::test
