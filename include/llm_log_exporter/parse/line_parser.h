#pragma once

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
  /// `request_keys` is a request.
  LineParser(std::vector<std::string> fields, std::vector<std::string> request_keys);
  ~LineParser();
  LineParser(const LineParser&) = delete;
  LineParser& operator=(const LineParser&) = delete;

  /// `line` must be followed by kLinePadding readable bytes. Never throws.
  void Parse(std::string_view line, Record& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lle
