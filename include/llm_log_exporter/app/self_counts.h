#pragma once

#include <string>
#include <utility>
#include <vector>

#include "llm_log_exporter/exposition/family.h"

namespace lle {

/// What the self-metrics say of one input (`source` label): its lines by
/// result, in LineResult's order (request, event, not_json, ...), and its
/// bytes. Read from a Collect() of the self-metrics, so that the
/// progress line, the --once summary and the landing page show the very
/// numbers /metrics shows, with no counting of their own. Plain data.
struct SourceCounts {
  std::string source;
  std::vector<std::pair<std::string, double>> lines;  // result, lines
  double bytes = 0;
  /// Whether llm_log_exporter_input_file_readable has a series for it
  /// (a followed file), and its value.
  bool has_readable = false;
  bool readable = false;

  double TotalLines() const;
  /// The lines of `result` (0 if it is no result name).
  double Lines(const std::string& result) const;
};

/// The sources of llm_log_exporter_lines_total in `families`, in their order
/// there (sorted by name); look one up by `source`.
std::vector<SourceCounts> CountsBySource(const std::vector<Family>& families);

/// The value of the one series of `name` whose labels include `label`=`value`
/// (both empty: its first series); false if there is none. Counters and gauges.
bool FamilyValue(const std::vector<Family>& families, const std::string& name,
                 const std::string& label, const std::string& value, double* out);

}  // namespace lle
