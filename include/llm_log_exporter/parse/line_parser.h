#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "llm_log_exporter/parse/record.h"

namespace lle {

/// Classifies lines as request, event, not JSON or invalid UTF-8 (strict RFC
/// 8259: no NaN/Infinity, nothing after the object) and extracts top-level
/// fields. Owns a simdjson parser and its buffers: one per thread, not thread-safe.
class LineParser {
 public:
  /// `fields`: names to extract (at most kMaxFields); a JSON object with any of
  /// `request_keys` is a request. `fast_path` false leaves every object to the
  /// DOM parser, for tests and benchmarks; the results are the same.
  LineParser(std::vector<std::string> fields, std::vector<std::string> request_keys,
             bool fast_path = true);
  ~LineParser();
  LineParser(const LineParser&) = delete;
  LineParser& operator=(const LineParser&) = delete;

  /// `line` must be followed by kLinePadding readable bytes. Never throws.
  /// out.fields are set for a JSON object (kRequest, kEvent), left as they
  /// were otherwise (kNotJson, kInvalidUtf8: text rules fill a record of their own).
  void Parse(std::string_view line, Record& out);

  /// Lines the flat-object fast path parsed, so tests can tell it is taken.
  std::size_t fast_path_lines() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lle
