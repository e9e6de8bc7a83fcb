#include "llm_log_exporter/framing/body_framer.h"

#include <simdjson.h>

#include <cctype>
#include <cstring>

#include "llm_log_exporter/core/ascii.h"
#include "llm_log_exporter/core/line.h"

namespace lle {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsJsonSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsJsonSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Appends `text` as lines: split on '\n', one '\r' before it dropped.
void AppendLines(std::string_view text, std::string& out) {
  if (text.empty()) out.push_back('\n');  // an empty log line is still a line
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out.append(line);
    out.push_back('\n');
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

// A record with a string `log` field (Docker/CRI stdout as Fluent Bit tails it
// without a parser) stands for that string; anything else for its JSON text.
// Only records that mention "log" are parsed here: the pipeline parses the rest.
void AppendRecord(std::string_view record, std::string& out) {
  static constexpr char kLogKey[] = "\"log\"";
  if (record.size() < 2 || record.front() != '{' ||
      record.find(kLogKey) == std::string_view::npos) {
    // One line: JSON allows raw newlines only between tokens, where a space will do.
    const std::size_t start = out.size();
    out.append(record);
    for (std::size_t i = start; i < out.size(); ++i) {
      if (out[i] == '\n' || out[i] == '\r') out[i] = ' ';
    }
    out.push_back('\n');
    return;
  }
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string_view log;
  if (parser.parse(record.data(), record.size()).get(doc) == simdjson::SUCCESS &&
      doc["log"].get_string().get(log) == simdjson::SUCCESS) {
    AppendLines(log, out);
    return;
  }
  std::string copy(record);
  for (char& c : copy) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  out.append(copy);
  out.push_back('\n');
}

// Splits concatenated JSON values (objects, or the elements of an array when
// `in_array`) by tracking strings and nesting; text outside any value that is
// not whitespace or a separator is passed on as a line of its own.
void SplitValues(std::string_view body, bool in_array, std::string& out) {
  std::size_t start = std::string_view::npos;  // start of the current value
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (std::size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (depth == 0 && (IsJsonSpace(c) || (in_array && c == ','))) {
      if (start != std::string_view::npos && !in_array) {
        // A scalar or garbage between records ends at whitespace.
        AppendRecord(body.substr(start, i - start), out);
        start = std::string_view::npos;
      }
      if (in_array && c == ',' && start != std::string_view::npos) {
        AppendRecord(Trim(body.substr(start, i - start)), out);
        start = std::string_view::npos;
      }
      continue;
    }
    if (start == std::string_view::npos) start = i;
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if ((c == '}' || c == ']') && depth > 0) {
      if (--depth == 0 && !in_array) {
        AppendRecord(body.substr(start, i + 1 - start), out);
        start = std::string_view::npos;
      }
    }
  }
  if (start != std::string_view::npos) AppendRecord(Trim(body.substr(start)), out);
}

}  // namespace

bool FormatForContentType(std::string_view content_type, BodyFormat* format) {
  const std::string_view type = Trim(content_type.substr(0, content_type.find(';')));
  if (type.empty() || EqualsIgnoreCase(type, "text/plain") ||
      EqualsIgnoreCase(type, "application/x-ndjson") ||
      EqualsIgnoreCase(type, "application/jsonl") ||
      EqualsIgnoreCase(type, "application/json-lines")) {
    *format = BodyFormat::kLines;
    return true;
  }
  if (EqualsIgnoreCase(type, "application/json") ||
      EqualsIgnoreCase(type, "application/stream+json")) {
    *format = BodyFormat::kRecords;
    return true;
  }
  return false;
}

bool FrameBody(BodyFormat format, std::string_view body, std::string& out, std::string* error) {
  if (format == BodyFormat::kLines) {
    // Each line may itself be a record with a `log` string to unwrap.
    while (!body.empty()) {
      const std::size_t nl = body.find('\n');
      std::string_view line = body.substr(0, nl);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      AppendRecord(line, out);
      if (nl == std::string_view::npos) break;
      body.remove_prefix(nl + 1);
    }
    return true;
  }
  const std::string_view trimmed = Trim(body);
  if (trimmed.empty()) return true;
  if (trimmed.front() == '[') {
    std::string_view inner = trimmed.substr(1);
    if (!inner.empty() && inner.back() == ']') inner.remove_suffix(1);
    SplitValues(inner, /*in_array=*/true, out);
    return true;
  }
  if (trimmed.front() == '{') {
    SplitValues(trimmed, /*in_array=*/false, out);
    return true;
  }
  *error = "an application/json body must be an array of records or records one after another";
  return false;
}

}  // namespace lle
