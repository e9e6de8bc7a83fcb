#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace lle {

/// How an HTTP ingest body is laid out (Fluent Bit's `http` output formats).
enum class BodyFormat {
  kLines,    // text/plain, application/x-ndjson (json_lines): one log line per line
  kRecords,  // application/json: an array of records (`format json`) or records
             // concatenated with or without newlines (`json_stream`, `json_lines`)
};

/// The format for a Content-Type value, or false if it is not one we read (→ 415).
/// An empty Content-Type is read as lines.
bool FormatForContentType(std::string_view content_type, BodyFormat* format);

/// Cuts an ingest body into log lines, appending each to `out` followed by
/// '\n', so `out` is whole lines for a Pipeline. A record (a JSON object) whose
/// `log` field is a string (container stdout shipped without a parser) becomes
/// the lines of that string; any other record becomes its own JSON text on one
/// line. Returns false with `*error` set if the body can never be read as that
/// format (a JSON body that is neither an array nor objects): answer 400.
/// Stateless and thread-safe.
bool FrameBody(BodyFormat format, std::string_view body, std::string& out, std::string* error);

}  // namespace lle
