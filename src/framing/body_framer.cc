#include "llm_log_exporter/framing/body_framer.h"

#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <exception>
#include <iterator>
#include <msgpack/null_visitor.hpp>
#include <msgpack/unpack.hpp>  // msgpack::parse, without msgpack::object
#include <optional>
#include <vector>

#include "llm_log_exporter/core/ascii.h"
#include "llm_log_exporter/core/json_text.h"
#include "llm_log_exporter/core/line.h"

namespace lle {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsJsonSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsJsonSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Appends `text` as lines: split on '\n', one '\r' before it dropped. Never
// more than text.size() + 1 bytes.
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

// --- The record rule ---------------------------------------------------------
//
// A record stands for the lines of its line field if that is a string, else
// for its own JSON text on one line (so fields put at the top level by an
// upstream parser work too). The line field is `log`, where Fluent Bit's tail
// input puts a container's stdout line when no parser runs; in a GELF record
// (`format gelf`) it is `short_message`, where `Gelf_Short_Message_Key` puts
// the line (`full_message` is another field, `Gelf_Full_Message_Key`, and
// never the line). A msgpack record's map follows the same rule (RecordWalker).

struct LineField {
  std::string_view name;
  std::string_view quoted;
};
constexpr LineField kLogField{"log", "\"log\""};
constexpr LineField kGelfField{"short_message", "\"short_message\""};
// How Fluent Bit's `format gelf` starts every record (flb_msgpack_to_gelf).
constexpr std::string_view kGelfStart = "{\"version\":\"1.1\"";

// A JSON record's line field.
const LineField& LineFieldOf(std::string_view record) {
  return record.substr(0, kGelfStart.size()) == kGelfStart ? kGelfField : kLogField;
}

// A JSON record (or anything else between records) by the record rule. Only
// records that mention their line field are parsed here: the pipeline parses
// the rest.
void AppendRecord(std::string_view record, std::string& out) {
  const LineField& field = LineFieldOf(record);
  if (record.size() >= 2 && record.front() == '{' &&
      record.find(field.quoted) != std::string_view::npos) {
    thread_local simdjson::dom::parser parser;
    simdjson::dom::element doc;
    std::string_view line;
    if (parser.parse(record.data(), record.size()).get(doc) == simdjson::SUCCESS &&
        doc[field.name].get_string().get(line) == simdjson::SUCCESS) {
      AppendLines(line, out);
      return;
    }
  }
  // One line: JSON allows raw newlines only between tokens, where a space will do.
  const std::size_t start = out.size();
  out.append(record);
  for (std::size_t i = start; i < out.size(); ++i) {
    if (out[i] == '\n' || out[i] == '\r') out[i] = ' ';
  }
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

// --- msgpack -----------------------------------------------------------------
//
// Fluent Bit's records as its `format msgpack` sends them (its chunks as
// they are): one after another, each [timestamp, map] or, since Fluent Bit
// 2.1, [[timestamp, metadata map], map]; a timestamp is a positive integer,
// a float or an EventTime (ext type 0, 8 bytes: seconds, nanoseconds).

// Where a container or value sits in a record.
enum class Role : std::uint8_t {
  kRecord,
  kHeader,
  kTimestamp,
  kMetadata,
  kBody,
  kInMetadata,
  kInBody
};

struct Level {
  Role role;  // of the container
  bool map;
  bool in_key = false;      // a map, now in a key
  std::uint32_t items = 0;  // elements, or key-value pairs, done
};

// Walks one record as msgpack::parse visits it: checks it is a record (see
// above), notes whether it is a group marker and its map's `log` string, and
// with `json` set appends the map as JSON text there. One walker per record
// and pass; `levels` is scratch space kept between records.
class RecordWalker : public msgpack::null_visitor {
 public:
  RecordWalker(std::vector<Level>& levels, std::string* json) : levels_(levels), json_(json) {
    levels_.clear();
  }

  BodyError error() const { return error_; }
  bool group_marker() const { return group_marker_; }
  const std::optional<std::string_view>& log() const { return log_; }

  bool visit_nil() { return Scalar("null", false); }
  bool visit_boolean(bool v) { return Scalar(v ? "true" : "false", false); }
  bool visit_positive_integer(std::uint64_t v) { return Number(v, true); }
  bool visit_negative_integer(std::int64_t v) { return Number(v, false); }
  bool visit_float32(float v) { return std::isfinite(v) ? Number(v, true) : Scalar("null", true); }
  bool visit_float64(double v) { return std::isfinite(v) ? Number(v, true) : Scalar("null", true); }
  bool visit_str(const char* v, std::uint32_t size) { return String(std::string_view(v, size)); }
  bool visit_bin(const char* v, std::uint32_t size) { return String(std::string_view(v, size)); }
  bool visit_ext(const char* v, std::uint32_t size) {
    // v[0] is the type, then the data: an EventTime is type 0 with 8 bytes.
    const bool event_time = size == 9 && v[0] == 0;
    if (event_time && IsTimestamp()) {
      // Fluent Bit marks the start and end of a group with the seconds
      // 0xffffffff and 0xfffffffe, nanoseconds 0 (flb_log_event_decoder.c).
      const auto byte = [v](int i) { return static_cast<unsigned char>(v[i]); };
      group_marker_ = byte(1) == 0xff && byte(2) == 0xff && byte(3) == 0xff &&
                      (byte(4) == 0xff || byte(4) == 0xfe) &&
                      (byte(5) | byte(6) | byte(7) | byte(8)) == 0;
    }
    return Scalar("null", event_time);
  }
  bool start_array(std::uint32_t size) { return Open(false, size); }
  bool start_array_item() {
    Comma();
    return true;
  }
  bool end_array_item() {
    ++levels_.back().items;
    return true;
  }
  bool end_array() { return Close(']'); }
  bool start_map(std::uint32_t size) { return Open(true, size); }
  bool start_map_key() {
    Comma();
    levels_.back().in_key = true;
    return true;
  }
  bool end_map_key() {
    levels_.back().in_key = false;
    return true;
  }
  bool start_map_value() {
    if (Writing()) json_->push_back(':');
    return true;
  }
  bool end_map_value() {
    ++levels_.back().items;
    log_next_ = false;
    return true;
  }
  bool end_map() { return Close('}'); }
  void parse_error(std::size_t, std::size_t) { error_ = BodyError::kMsgpackInvalid; }
  void insufficient_bytes(std::size_t, std::size_t) { error_ = BodyError::kMsgpackTruncated; }

 private:
  // The role of the next value.
  Role Next() const {
    if (levels_.empty()) return Role::kRecord;
    const Level& top = levels_.back();
    switch (top.role) {
      case Role::kRecord:
        return top.items == 0 ? Role::kHeader : Role::kBody;
      case Role::kHeader:
        return top.items == 0 ? Role::kTimestamp : Role::kMetadata;
      case Role::kMetadata:
      case Role::kInMetadata:
        return Role::kInMetadata;
      default:
        return Role::kInBody;
    }
  }
  bool IsTimestamp() const { return Next() == Role::kHeader || Next() == Role::kTimestamp; }
  bool Writing() const { return json_ != nullptr && Next() == Role::kInBody; }
  bool InKey() const { return !levels_.empty() && levels_.back().in_key; }
  // The next value is a key or value of the record's map itself.
  bool AtBodyTop() const { return levels_.size() == 2 && levels_.back().role == Role::kBody; }

  bool Fail(BodyError error) {
    error_ = error;
    return false;
  }
  void Comma() {
    if (Writing() && levels_.back().items > 0) json_->push_back(',');
  }

  // A scalar other than a string, as `text`; `timestamp`: it may be one.
  bool Scalar(std::string_view text, bool timestamp) {
    switch (Next()) {
      case Role::kHeader:
      case Role::kTimestamp:
        return timestamp || Fail(BodyError::kMsgpackNotARecord);
      case Role::kInMetadata:
        return true;
      case Role::kInBody:
        if (json_ != nullptr) {
          // A key must be a string in JSON: a number, boolean or null key is quoted.
          if (InKey()) json_->push_back('"');
          json_->append(text);
          if (InKey()) json_->push_back('"');
        }
        return true;
      default:
        return Fail(BodyError::kMsgpackNotARecord);  // the record, its map, its metadata
    }
  }
  template <typename T>
  bool Number(T v, bool timestamp) {
    char buf[64];
    const auto end = std::to_chars(buf, buf + sizeof buf, v).ptr;
    return Scalar(std::string_view(buf, static_cast<std::size_t>(end - buf)), timestamp);
  }
  bool String(std::string_view v) {
    if (Next() != Role::kInBody) return Scalar({}, false);
    if (AtBodyTop()) {
      if (InKey()) {
        log_next_ = !log_key_seen_ && v == kLogField.name;  // the first `log` key counts
        log_key_seen_ = log_key_seen_ || log_next_;
      } else if (log_next_) {
        log_ = v;
      }
    }
    if (json_ != nullptr) AppendJsonString(v);
    return true;
  }
  void AppendJsonString(std::string_view v) {
    std::string& out = *json_;
    out.push_back('"');
    std::size_t done = 0;
    for (std::size_t i = 0; i < v.size(); ++i) {
      const auto c = static_cast<unsigned char>(v[i]);
      if (c >= 0x20 && c != '"' && c != '\\') continue;
      out.append(v.substr(done, i - done));
      done = i + 1;
      AppendJsonEscape(c, &out);
    }
    out.append(v.substr(done));
    out.push_back('"');
  }

  bool Open(bool map, std::uint32_t size) {
    if (levels_.size() >= static_cast<std::size_t>(kMaxJsonDepth)) {
      return Fail(BodyError::kMsgpackTooDeep);
    }
    Role role = Next();
    switch (role) {
      case Role::kRecord:
      case Role::kHeader:
        if (map || size != 2) return Fail(BodyError::kMsgpackNotARecord);
        break;
      case Role::kMetadata:
      case Role::kBody:
        if (!map) return Fail(BodyError::kMsgpackNotARecord);
        break;
      case Role::kInBody:
        if (InKey()) return Fail(BodyError::kMsgpackNotARecord);  // no JSON for it
        break;
      case Role::kInMetadata:
        break;
      case Role::kTimestamp:
        return Fail(BodyError::kMsgpackNotARecord);
    }
    if (json_ != nullptr && (role == Role::kBody || role == Role::kInBody)) {
      json_->push_back(map ? '{' : '[');
    }
    levels_.push_back({role, map});
    return true;
  }
  bool Close(char bracket) {
    const Role role = levels_.back().role;
    levels_.pop_back();
    if (json_ != nullptr && (role == Role::kBody || role == Role::kInBody)) {
      json_->push_back(bracket);
    }
    return true;
  }

  std::vector<Level>& levels_;
  std::string* json_;
  BodyError error_ = BodyError::kMsgpackInvalid;
  bool group_marker_ = false;
  bool log_key_seen_ = false;
  bool log_next_ = false;  // the value of the map's first `log` key is next
  std::optional<std::string_view> log_;
};

// Parses the record at `*offset` of `body` with `walker`, moving `*offset`
// past it; false if it cannot be read (walker.error() says why).
bool WalkRecord(std::string_view body, std::size_t* offset, RecordWalker& walker) {
  try {
    return msgpack::parse(body.data(), body.size(), *offset, walker);
  } catch (const std::exception&) {  // msgpack-c throws only for its own visitors; to be sure
    return false;
  }
}

std::string Describe(BodyError error, std::size_t offset) {
  const std::string at = " (the record at byte " + std::to_string(offset) + ")";
  switch (error) {
    case BodyError::kMsgpackTruncated:
      return "msgpack body ends inside a value" + at;
    case BodyError::kMsgpackNotARecord:
      return "msgpack body holds a value that is not a Fluent Bit record ([timestamp, map] or "
             "[[timestamp, metadata], map]; map keys not arrays or maps)" +
             at;
    case BodyError::kMsgpackTooDeep:
      return "msgpack body nests deeper than " + std::to_string(kMaxJsonDepth) + at;
    default:
      return "msgpack body holds a byte msgpack does not define" + at;
  }
}

// Each record as JSON takes at most this many bytes per byte of msgpack (a
// map of false: false pairs, 2 bytes each, is ,"false":false).
constexpr std::size_t kJsonBytesPerMsgpackByte = 8;

Framed FrameMsgpack(std::string_view body, std::string& out, const FrameRoom& room,
                    BodyError* reason, std::string* error) {
  std::vector<Level> levels;
  std::size_t offset = 0;
  while (offset < body.size()) {
    const std::size_t start = offset;
    RecordWalker check(levels, nullptr);
    if (!WalkRecord(body, &offset, check)) {
      *reason = check.error();
      *error = Describe(check.error(), start);
      return Framed::kUnreadable;
    }
    if (check.group_marker()) continue;
    if (check.log()) {
      if (room && !room(out.size() + check.log()->size() + 1)) return Framed::kNoRoom;
      AppendLines(*check.log(), out);
      continue;
    }
    if (room && !room(out.size() + kJsonBytesPerMsgpackByte * (offset - start) + 1)) {
      return Framed::kNoRoom;
    }
    RecordWalker write(levels, &out);
    std::size_t again = start;
    WalkRecord(body, &again, write);  // read whole above
    out.push_back('\n');
  }
  return Framed::kOk;
}

}  // namespace

std::string_view BodyErrorName(BodyError error) {
  static constexpr std::string_view kNames[] = {"gzip",
                                                "zstd",
                                                "snappy",
                                                "json",
                                                "msgpack_truncated",
                                                "msgpack_invalid",
                                                "msgpack_not_a_record",
                                                "msgpack_too_deep"};
  static_assert(std::size(kNames) == static_cast<std::size_t>(BodyError::kNumErrors));
  return kNames[static_cast<std::size_t>(error)];
}

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
  if (EqualsIgnoreCase(type, "application/msgpack") ||
      EqualsIgnoreCase(type, "application/x-msgpack")) {
    *format = BodyFormat::kMsgpack;
    return true;
  }
  return false;
}

Framed FrameBody(BodyFormat format, std::string_view body, std::string& out, const FrameRoom& room,
                 BodyError* reason, std::string* error) {
  if (format == BodyFormat::kMsgpack) return FrameMsgpack(body, out, room, reason, error);
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
    return Framed::kOk;
  }
  const std::string_view trimmed = Trim(body);
  if (trimmed.empty()) return Framed::kOk;
  if (trimmed.front() == '[') {
    std::string_view inner = trimmed.substr(1);
    if (!inner.empty() && inner.back() == ']') inner.remove_suffix(1);
    SplitValues(inner, /*in_array=*/true, out);
    return Framed::kOk;
  }
  if (trimmed.front() == '{') {
    SplitValues(trimmed, /*in_array=*/false, out);
    return Framed::kOk;
  }
  *reason = BodyError::kJson;
  *error = "an application/json body must be an array of records or records one after another";
  return Framed::kUnreadable;
}

}  // namespace lle
