// libFuzzer target: the whole worker pipeline (src/app/pipeline.cc: framing,
// parse, text rules, mapper, store) with the built-in preset, which is
// config/qwen.yaml compiled in (lle::QwenPreset), and the exposition.
//
// The first input byte picks the set-up (line limit, chunk size, a reload in
// the middle); the rest are log lines, fed in chunks of whole lines to two
// pipelines (sources stdin and http) as the daemon's workers are. Then:
// - every line counts once: per source, llm_log_exporter_lines_total over
//   all outcomes equals the lines fed;
// - label values are bounded: per metric and label, at most max_values
//   distinct values plus the overflow value, none over 128 bytes unless the
//   config names it;
// - the exposition is clean: no control byte (but '\n') and valid UTF-8, so
//   neither a terminal nor Prometheus' parser chokes on a scrape.

#include <simdjson.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.h"
#include "llm_log_exporter/app/exporter.h"
#include "llm_log_exporter/app/pipeline.h"
#include "llm_log_exporter/config/config.h"
#include "llm_log_exporter/core/line.h"
#include "llm_log_exporter/core/metric_spec.h"
#include "llm_log_exporter/exposition/text_format.h"

namespace {

using lle::fuzz::Check;
using lle::fuzz::Fail;

constexpr std::size_t kMaxLabelValueBytes = 128;  // as the store's limit

const lle::RuleSet& Preset() {
  static const lle::RuleSet rules = lle::QwenPreset();
  return rules;
}

// Feeds `lines` (whole lines) as one chunk, padded as a ChunkReader's are.
void FeedChunk(lle::Pipeline& pipeline, std::string_view lines, std::uint64_t seq) {
  const lle::fuzz::PaddedText chunk(lines, 'x');
  pipeline.Feed(chunk.view(), seq, 1.7e9 + static_cast<double>(seq));
}

void CheckLineCounts(const std::vector<lle::Family>& families, const std::uint64_t fed[2]) {
  double counted[2] = {0, 0};
  bool found = false;
  for (const auto& family : families) {
    if (family.name != "llm_log_exporter_lines_total") continue;
    found = true;
    for (const auto& metric : family.series) {
      for (const auto& label : metric.labels) {
        if (label.name != "source") continue;
        if (label.value == "stdin") counted[0] += metric.value;
        if (label.value == "http") counted[1] += metric.value;
      }
    }
  }
  Check(found, "no llm_log_exporter_lines_total family");
  for (int s = 0; s < 2; ++s) {
    if (counted[s] != static_cast<double>(fed[s])) {
      const std::string detail = std::string(s == 0 ? "stdin" : "http") + ": fed " +
                                 std::to_string(fed[s]) + ", counted " +
                                 std::to_string(counted[s]);
      Fail("lines not counted exactly once", detail);
    }
  }
}

void CheckLabels(const std::vector<lle::Family>& families,
                 const std::vector<lle::MetricSpec>& specs) {
  std::map<std::string, const lle::MetricSpec*> by_name;
  for (const auto& spec : specs) by_name[spec.name] = &spec;
  for (const auto& family : families) {
    const auto it = by_name.find(family.name);
    if (it == by_name.end()) continue;  // self-metrics, overflow counter
    const lle::MetricSpec& spec = *it->second;
    std::vector<std::set<std::string>> seen(spec.labels.size());
    for (const auto& metric : family.series) {
      for (const auto& label : metric.labels) {
        for (std::size_t l = 0; l < spec.labels.size(); ++l) {
          if (label.name == spec.labels[l].name) seen[l].insert(label.value);
        }
      }
    }
    for (std::size_t l = 0; l < spec.labels.size(); ++l) {
      const lle::LabelSpec& ls = spec.labels[l];
      const std::size_t cap = std::max(ls.max_values, ls.values.size()) + 1;  // + overflow
      if (seen[l].size() > cap) {
        Fail("label has more values than its limit",
             family.name + "{" + ls.name + "}: " + std::to_string(seen[l].size()) + " > " +
                 std::to_string(cap));
      }
      for (const std::string& value : seen[l]) {
        const bool named = value == ls.overflow ||
                           std::find(ls.values.begin(), ls.values.end(), value) != ls.values.end();
        if (!named && value.size() > kMaxLabelValueBytes) {
          Fail("label value over 128 bytes", family.name + "{" + ls.name + "}=" + value);
        }
      }
    }
  }
}

// One sample line of the text format: NAME[{L="V",...}] VALUE, with label
// values escaped (\\, \", \n only) and a value Prometheus' ParseFloat takes
// (no overflow: 1.797693134862316e+308 took a target down, issue 17 item 1).
bool ValidSample(std::string_view line) {
  std::size_t i = 0;
  const auto name_char = [](char c, bool first) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
           (!first && c >= '0' && c <= '9');
  };
  if (i == line.size() || !name_char(line[i], true)) return false;
  while (i < line.size() && name_char(line[i], false)) ++i;
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (i < line.size() && line[i] != '}') {
      if (!name_char(line[i], true)) return false;
      while (i < line.size() && name_char(line[i], false)) ++i;
      if (line.substr(i, 2) != "=\"") return false;
      i += 2;
      for (;;) {
        if (i >= line.size()) return false;
        if (line[i] == '"') break;
        if (line[i] == '\\') {
          if (i + 1 >= line.size() || (line[i + 1] != '\\' && line[i + 1] != '"' &&
                                       line[i + 1] != 'n')) {
            return false;
          }
          ++i;
        }
        ++i;
      }
      ++i;  // the closing quote
      if (i < line.size() && line[i] == ',') ++i;
    }
    if (i == line.size()) return false;
    ++i;  // '}'
  }
  if (i == line.size() || line[i] != ' ') return false;
  const std::string value(line.substr(i + 1));
  if (value == "+Inf" || value == "-Inf" || value == "NaN") return true;
  if (value.empty() || value.find_first_not_of("0123456789+-.eE") != std::string::npos) {
    return false;
  }
  errno = 0;
  char* end = nullptr;
  const double d = std::strtod(value.c_str(), &end);
  return end == value.c_str() + value.size() && !(errno == ERANGE && std::isinf(d));
}

void CheckExposition(const std::string& text) {
  for (const std::string_view line : lle::fuzz::SplitLines(text)) {
    if (line.empty() || line[0] == '#') continue;
    if (!ValidSample(line)) Fail("an exposition line Prometheus cannot parse", line);
  }
  std::size_t at = 0;
  if (lle::fuzz::HasControlByte(text, &at)) {
    const std::size_t line_start = text.rfind('\n', at);
    const std::size_t from = line_start == std::string::npos ? 0 : line_start + 1;
    Fail("control byte in the exposition", std::string_view(text).substr(from, 200));
  }
  if (!simdjson::validate_utf8(text.data(), text.size())) {
    Fail("the exposition is not valid UTF-8 (Prometheus refuses the scrape)");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::uint8_t setup = data[0];
  std::string input(reinterpret_cast<const char*>(data + 1), size - 1);
  if (!input.empty() && input.back() != '\n') input.push_back('\n');
  // Small limits reach the too-long path; 1 MiB is the daemon's default.
  const std::size_t max_line_bytes = (setup & 1) != 0 ? 64 : 1 << 20;
  const std::size_t lines_per_chunk = 1 + ((setup >> 1) & 7);
  const bool reload = (setup & 0x10) != 0;

  lle::Exporter exporter(Preset(), /*http_ingest=*/true);
  lle::Pipeline stdin_pipeline(exporter, lle::kStdinSource, max_line_bytes);
  lle::Pipeline http_pipeline(exporter, exporter.http_source(), max_line_bytes);
  lle::Pipeline* pipelines[2] = {&stdin_pipeline, &http_pipeline};

  std::uint64_t fed[2] = {0, 0};
  std::uint64_t seq = 0;
  std::size_t start = 0;
  std::size_t chunk_index = 0;
  const std::size_t total_lines =
      static_cast<std::size_t>(std::count(input.begin(), input.end(), '\n'));
  std::size_t lines_done = 0;
  while (start < input.size()) {
    std::size_t end = start;
    std::size_t lines = 0;
    while (lines < lines_per_chunk && end < input.size()) {
      end = input.find('\n', end) + 1;
      ++lines;
    }
    const int source = static_cast<int>(chunk_index++ % 2);
    FeedChunk(*pipelines[source], std::string_view(input).substr(start, end - start), ++seq);
    fed[source] += lines;
    lines_done += lines;
    if (reload && lines_done * 2 >= total_lines && lines_done - lines < (total_lines + 1) / 2) {
      exporter.Reload(Preset());  // the same rules: every series keeps its value
    }
    start = end;
  }
  for (lle::Pipeline* p : pipelines) p->Finish();

  const std::vector<lle::Family> families = exporter.Collect();
  CheckLineCounts(families, fed);
  {
    std::shared_lock<lle::ReloadGate> lock(exporter.gate());
    CheckLabels(families, exporter.generation()->mapper.Specs());
  }
  CheckExposition(lle::SerializeText(families));
  return 0;
}
