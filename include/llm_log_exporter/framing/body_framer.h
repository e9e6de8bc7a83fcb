#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace lle {

/// How an HTTP ingest body is laid out (Fluent Bit's `http` output formats).
enum class BodyFormat {
  kLines,    // text/plain, application/x-ndjson (json_lines): one log line per line
  kRecords,  // application/json: an array of records (`format json`), records
             // concatenated with or without newlines (`json_stream`, `json_lines`),
             // or GELF records one per line (`format gelf`)
  kMsgpack,  // application/msgpack (`format msgpack`; before Fluent Bit 3.0 the
             // default): Fluent Bit's own records, one after another
};

/// Why an ingest body can never be read: answered 400 and counted by this
/// reason (llm_log_exporter_http_ingest_unreadable_bodies_total).
enum class BodyError : std::uint32_t {
  kGzip,               // not valid gzip (Content-Encoding gzip)
  kZstd,               // not valid zstd
  kSnappy,             // not a valid snappy block
  kJson,               // application/json that is neither an array nor records
  kMsgpackTruncated,   // ends inside a value
  kMsgpackInvalid,     // a byte msgpack does not define (0xc1)
  kMsgpackNotARecord,  // a value other than [timestamp, map] or
                       // [[timestamp, metadata map], map], or a map key that
                       // is an array or a map
  kMsgpackTooDeep,     // nested deeper than kMaxJsonDepth
  kNumErrors
};

/// The `reason` label value of `error`.
std::string_view BodyErrorName(BodyError error);

/// The format for a Content-Type value, or false if it is not one we read (→ 415).
/// An empty Content-Type is read as lines.
bool FormatForContentType(std::string_view content_type, BodyFormat* format);

/// How FrameBody ended.
enum class Framed {
  kOk,
  kUnreadable,  // the body can never be read as its format: answer 400
  kNoRoom,      // `room` refused to let the lines grow
};

/// Makes room for `size` bytes in FrameBody's `out` (false: there is none).
/// Empty: `out` grows as it needs.
using FrameRoom = std::function<bool(std::size_t size)>;

/// Cuts an ingest body into log lines, appending each to `out` followed by
/// '\n', so `out` is whole lines for a Pipeline. Each record (a JSON object,
/// or the map of a msgpack record) stands for the lines of its line field if
/// that is a string: `log` (container stdout shipped without a parser), in a
/// GELF record `short_message`; any other record for its JSON text on one
/// line (a msgpack record's map written as JSON; its timestamp and metadata
/// are not used). Fluent Bit's group markers (msgpack records whose
/// timestamp is -1 or -2) are skipped.
///
/// The text and JSON formats frame into about as many bytes as the body has,
/// and the caller makes room for those first; a msgpack record can take up
/// to 8 times its size as JSON, so for msgpack `room` is asked before each
/// record. On kUnreadable, `*error` says why and `*reason` is set. `out` may
/// hold part of the body's lines after a failure. Stateless and thread-safe.
Framed FrameBody(BodyFormat format, std::string_view body, std::string& out, const FrameRoom& room,
                 BodyError* reason, std::string* error);

}  // namespace lle
