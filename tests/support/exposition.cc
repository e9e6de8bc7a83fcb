#include "support/exposition.h"

#include <algorithm>
#include <cstdlib>
#include <iterator>
#include <sstream>

#include "support/child_process.h"

namespace lle::test {

std::optional<double> MetricValue(const std::string& exposition, const std::string& series) {
  std::istringstream in(exposition);
  for (std::string line; std::getline(in, line);) {
    if (line.size() <= series.size() || line.compare(0, series.size(), series) != 0 ||
        line[series.size()] != ' ') {
      continue;
    }
    const char* value = line.c_str() + series.size() + 1;
    char* end = nullptr;
    const double parsed = std::strtod(value, &end);
    if (end == value) return std::nullopt;
    return parsed;
  }
  return std::nullopt;
}

double SumOfSamples(const std::string& exposition, const std::string& prefix) {
  double sum = 0;
  std::istringstream in(exposition);
  for (std::string line; std::getline(in, line);) {
    if (line.compare(0, prefix.size(), prefix) != 0) continue;
    sum += std::strtod(line.c_str() + line.rfind(' ') + 1, nullptr);
  }
  return sum;
}

namespace {

bool OnlyExpectedLintFindings(const std::string& promtool_output) {
  static const char* const kAccepted[] = {
      "qwen_request_duration_ms metric names should not contain abbreviated units",
      "qwen_gpu_memory_mb metric names should not contain abbreviated units",
  };
  std::istringstream in(promtool_output);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    if (std::find(std::begin(kAccepted), std::end(kAccepted), line) == std::end(kAccepted)) {
      return false;
    }
  }
  return true;
}

}  // namespace

::testing::AssertionResult PromtoolAccepts(const std::string& promtool,
                                           const std::string& exposition) {
  const RunResult check = Run({promtool, "check", "metrics"}, exposition);
  const std::string output = check.out + check.err;
  if (check.exit_code == 0 || (check.exit_code == 3 && OnlyExpectedLintFindings(output))) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "promtool exit " << check.exit_code << ":\n"
                                       << output << "\nexposition:\n"
                                       << exposition;
}

std::string LinesSeries(const std::string& source, const std::string& result) {
  return "llm_log_exporter_lines_total{source=\"" + source + "\",result=\"" + result + "\"}";
}

std::string RequestsSeries(const std::string& status) {
  return "qwen_requests_total{status=\"" + status + "\"}";
}

}  // namespace lle::test
