#include "llm_log_exporter/app/self_counts.h"

#include <algorithm>

#include "llm_log_exporter/app/self_metrics.h"

namespace lle {
namespace {

const std::string* LabelValue(const Series& metric, const std::string& name) {
  for (const Label& label : metric.labels) {
    if (label.name == name) return &label.value;
  }
  return nullptr;
}

const Family* Find(const std::vector<Family>& families, const std::string& name) {
  for (const Family& family : families) {
    if (family.name == name) return &family;
  }
  return nullptr;
}

SourceCounts& Source(std::vector<SourceCounts>& sources, const std::string& name) {
  for (SourceCounts& source : sources) {
    if (source.source == name) return source;
  }
  sources.emplace_back();
  sources.back().source = name;
  return sources.back();
}

}  // namespace

double SourceCounts::TotalLines() const {
  double total = 0;
  for (const auto& result : lines) total += result.second;
  return total;
}

double SourceCounts::Lines(const std::string& result) const {
  for (const auto& r : lines) {
    if (r.first == result) return r.second;
  }
  return 0;
}

std::vector<SourceCounts> CountsBySource(const std::vector<Family>& families) {
  std::vector<SourceCounts> sources;
  if (const auto* lines = Find(families, "llm_log_exporter_lines_total")) {
    for (const Series& metric : lines->series) {
      const std::string* source = LabelValue(metric, "source");
      const std::string* result = LabelValue(metric, "result");
      if (source == nullptr || result == nullptr) continue;
      Source(sources, *source).lines.emplace_back(*result, metric.value);
    }
  }
  // In LineResult's order (request first), not the exposition's (sorted by value).
  auto rank = [](const std::pair<std::string, double>& line) {
    std::uint32_t r = 0;
    while (r < static_cast<std::uint32_t>(LineResult::kNumResults) &&
           line.first != LineResultName(static_cast<LineResult>(r))) {
      ++r;
    }
    return r;
  };
  for (SourceCounts& source : sources) {
    std::stable_sort(source.lines.begin(), source.lines.end(),
                     [&rank](const auto& a, const auto& b) { return rank(a) < rank(b); });
  }
  if (const auto* bytes = Find(families, "llm_log_exporter_bytes_total")) {
    for (const Series& metric : bytes->series) {
      if (const std::string* source = LabelValue(metric, "source")) {
        Source(sources, *source).bytes = metric.value;
      }
    }
  }
  if (const auto* readable = Find(families, "llm_log_exporter_input_file_readable")) {
    for (const Series& metric : readable->series) {
      if (const std::string* source = LabelValue(metric, "source")) {
        SourceCounts& counts = Source(sources, *source);
        counts.has_readable = true;
        counts.readable = metric.value != 0;
      }
    }
  }
  return sources;
}

bool FamilyValue(const std::vector<Family>& families, const std::string& name,
                 const std::string& label, const std::string& value, double* out) {
  const Family* family = Find(families, name);
  if (family == nullptr) return false;
  for (const Series& metric : family->series) {
    if (!label.empty()) {
      const std::string* v = LabelValue(metric, label);
      if (v == nullptr || *v != value) continue;
    }
    *out = metric.value;
    return true;
  }
  return false;
}

}  // namespace lle
