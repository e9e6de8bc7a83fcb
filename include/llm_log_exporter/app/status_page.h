#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "llm_log_exporter/exposition/family.h"

namespace lle {

/// One input of the daemon as the landing page names it. Plain data.
struct StatusInput {
  std::string source;  // its `source` label value in llm_log_exporter_lines_total
  std::string kind;    // "stdin", "file", "HTTP ingest"
  /// What the self-metrics do not say: "reading", "end of input", a read
  /// error, "accepting POST at /ingest". Empty for a followed file, whose
  /// state is llm_log_exporter_input_file_readable.
  std::string state;
};

/// What the landing page shows besides the metrics. Plain data.
struct StatusPageData {
  std::vector<StatusInput> inputs;
  std::string config_file;  // empty: the built-in preset
  /// When the config in force was last (re)loaded or a reload last failed,
  /// and, for a failure, why the previous config stays.
  std::chrono::system_clock::time_point last_reload;
  bool reloaded = false;  // false: only the load at start so far
  std::string reload_error;
  std::string telemetry_path = "/metrics";
  bool lifecycle = false;  // POST /-/reload enabled
  std::chrono::system_clock::time_point now;
};

/// `text` with &, <, >, " and ' as HTML character references: safe in
/// element content and in quoted attribute values.
std::string HtmlEscape(std::string_view text);

/// The landing page (GET /): a complete HTML document with no external
/// assets, rendered from `data` and `families` (a Collect() of the exporter:
/// lines by source and result, file readability, reload outcome and the
/// rules' *_last_request_timestamp_seconds gauge). Every value printed is
/// escaped. It refreshes itself every 10 s (a meta refresh, no script).
std::string RenderStatusPage(const StatusPageData& data, const std::vector<Family>& families);

}  // namespace lle
