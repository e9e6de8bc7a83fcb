#include "llm_log_exporter/app/status_page.h"

#include <spdlog/fmt/fmt.h>
#include <time.h>

#include <algorithm>
#include <cmath>

#include "llm_log_exporter/app/self_counts.h"

namespace lle {
namespace {

// "2026-12-07 03:40:00 UTC (12 s ago)".
std::string Time(double seconds, double now) {
  const auto whole = static_cast<time_t>(seconds);
  struct tm utc;
  gmtime_r(&whole, &utc);
  char text[64];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &utc);
  const double ago = std::max(0.0, now - seconds);
  return fmt::format("{} ({:.0f} s ago)", text, std::floor(ago));
}

double Seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

// The latest value of the rules' gauges named *_last_request_timestamp_seconds
// (the preset's qwen_last_request_timestamp_seconds); false if the rules have none.
bool LastRequest(const std::vector<Family>& families, double* seconds) {
  static constexpr std::string_view kSuffix = "_last_request_timestamp_seconds";
  bool found = false;
  *seconds = 0;
  for (const Family& family : families) {
    if (family.type != MetricType::kGauge || family.name.size() < kSuffix.size() ||
        family.name.compare(family.name.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
      continue;
    }
    found = true;
    for (const Series& metric : family.series) {
      *seconds = std::max(*seconds, metric.value);
    }
  }
  return found;
}

}  // namespace

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string RenderStatusPage(const StatusPageData& data, const std::vector<Family>& families) {
  const double now = Seconds(data.now);
  const std::vector<SourceCounts> counts = CountsBySource(families);
  std::string page =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta http-equiv=\"refresh\" content=\"10\">"
      "<title>llm_log_exporter</title><style>"
      "body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}"
      "th,td{border:1px solid #bbb;padding:.2em .6em;text-align:left}"
      "td.n{text-align:right;font-variant-numeric:tabular-nums}.bad{color:#b00}"
      "</style></head><body>\n<h1>llm_log_exporter</h1>"
      "<p>Prometheus metrics from LLM inference server logs.</p>\n";

  // Inputs: one row each, its lines by result as llm_log_exporter_lines_total counts them.
  std::vector<std::string> results;
  for (const SourceCounts& source : counts) {
    for (const auto& result : source.lines) {
      if (std::find(results.begin(), results.end(), result.first) == results.end()) {
        results.push_back(result.first);
      }
    }
  }
  page += "<h2>Inputs</h2>\n<table id=\"inputs\"><thead><tr><th>input</th><th>kind</th>"
          "<th>state</th><th>bytes</th><th>lines</th>";
  for (const std::string& result : results) page += "<th>" + HtmlEscape(result) + "</th>";
  page += "</tr></thead><tbody>\n";
  for (const StatusInput& input : data.inputs) {
    const SourceCounts* source = nullptr;
    for (const SourceCounts& c : counts) {
      if (c.source == input.source) source = &c;
    }
    std::string state = input.state;
    bool bad = false;
    if (state.empty() && source != nullptr && source->has_readable) {
      state = source->readable ? "open, reading" : "not readable (missing or cannot be opened)";
      bad = !source->readable;
    }
    page += "<tr data-source=\"" + HtmlEscape(input.source) + "\"><td>" +
            HtmlEscape(input.source) + "</td><td>" + HtmlEscape(input.kind) + "</td><td" +
            (bad ? " class=\"bad\"" : "") + ">" + HtmlEscape(state) + "</td>";
    page += fmt::format("<td class=\"n\">{:.0f}</td><td class=\"n\">{:.0f}</td>",
                        source ? source->bytes : 0.0, source ? source->TotalLines() : 0.0);
    for (const std::string& result : results) {
      page += fmt::format("<td class=\"n\" data-result=\"{}\">{:.0f}</td>", HtmlEscape(result),
                          source ? source->Lines(result) : 0.0);
    }
    page += "</tr>\n";
  }
  page += "</tbody></table>\n";

  double last_request = 0;
  page += "<p id=\"last-request\">Last request line: ";
  if (!LastRequest(families, &last_request)) {
    page += "not measured (the config has no *_last_request_timestamp_seconds gauge)";
  } else if (last_request <= 0) {
    page += "none yet";
  } else {
    page += HtmlEscape(Time(last_request, now));
  }
  page += "</p>\n";

  // The config: which, and how its last (re)load went.
  double successful = 1, successes = 0, failures = 0;
  FamilyValue(families, "llm_log_exporter_config_last_reload_successful", "", "", &successful);
  FamilyValue(families, "llm_log_exporter_config_reloads_total", "outcome", "success", &successes);
  FamilyValue(families, "llm_log_exporter_config_reloads_total", "outcome", "failure", &failures);
  page += "<h2>Config</h2>\n<table id=\"config\"><tbody>\n<tr><th>config</th><td>" +
          (data.config_file.empty() ? std::string("built-in preset")
                                    : HtmlEscape(data.config_file)) +
          "</td></tr>\n<tr><th>last " + (data.reloaded ? "reload" : "load (at start)") +
          "</th><td>" + HtmlEscape(Time(Seconds(data.last_reload), now)) + "</td></tr>\n";
  page += std::string("<tr><th>last load successful</th><td") +
          (successful != 0 ? ">yes" : " class=\"bad\">no, the previous config stays in force") +
          "</td></tr>\n";
  if (!data.reload_error.empty()) {
    page += "<tr><th>error</th><td class=\"bad\">" + HtmlEscape(data.reload_error) + "</td></tr>\n";
  }
  page += fmt::format(
      "<tr><th>reloads</th><td>{:.0f} successful, {:.0f} failed{}</td></tr>\n</tbody></table>\n",
      successes, failures,
      data.lifecycle ? " (SIGHUP or POST /-/reload)" : " (SIGHUP; POST /-/reload is off)");

  page += "<h2>Endpoints</h2>\n<ul><li><a href=\"" + HtmlEscape(data.telemetry_path) +
          "\">Metrics</a></li><li><a href=\"/-/healthy\">Health</a></li>"
          "<li><a href=\"/-/ready\">Readiness</a></li></ul>\n";
  page += "<p><small>As of " + HtmlEscape(Time(now, now)).substr(0, 23) +
          "; refreshes every 10 s.</small></p>\n</body></html>\n";
  return page;
}

}  // namespace lle
