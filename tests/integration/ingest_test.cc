// Integration tests of the HTTP ingest endpoint (--ingest.enable): the real
// binary as a child process, log lines POSTed over real HTTP on 127.0.0.1 with
// a kernel-chosen port, exactly in the body forms Fluent Bit's `http` output
// sends.
//
// The endpoint works a body before it answers, so a 204 means every line of
// it is counted: after a 204 the tests scrape once and expect the exact
// counts, with no polling (that is part of the contract). They poll only for
// lines written to stdin, which the daemon reads on its own thread.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <snappy.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/child_process.h"
#include "support/daemon.h"
#include "support/exposition.h"
#include "support/http_client.h"
#include "support/temp_dir.h"

namespace lle::test {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr seconds kDeadline{10};  // generous: only reached when a test fails
constexpr char kBinary[] = LLE_BINARY;
constexpr char kIngestPath[] = "/api/v1/logs";
constexpr char kEnable[] = "--ingest.enable";

// --- Series names ------------------------------------------------------------

std::string HttpLines(const std::string& result) { return LinesSeries("http", result); }
std::string Answers(int code) {
  return "llm_log_exporter_http_ingest_requests_total{code=\"" + std::to_string(code) + "\"}";
}
std::string Unreadable(const std::string& reason) {
  return "llm_log_exporter_http_ingest_unreadable_bodies_total{reason=\"" + reason + "\"}";
}
constexpr char kHttpBytes[] = "llm_log_exporter_bytes_total{source=\"http\"}";

// --- Daemon ------------------------------------------------------------------

// Starts the daemon on 127.0.0.1:0 with `flags` (see LaunchDaemon).
Daemon StartDaemon(const std::vector<std::string>& flags = {}) {
  return LaunchDaemon(kBinary, flags);
}

RunResult RunBinary(const std::vector<std::string>& flags) {
  std::vector<std::string> argv = {kBinary};
  argv.insert(argv.end(), flags.begin(), flags.end());
  return lle::test::Run(argv, "", kDeadline);
}

std::string Header(const HttpResponse& response, const std::string& lower_case_name) {
  const auto it = response.headers.find(lower_case_name);
  return it == response.headers.end() ? "" : it->second;
}

int CountLines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

// --- Exposition --------------------------------------------------------------

// One scrape, every series in `expected` at its value: no polling, for
// counts that a 204 already guarantees.
::testing::AssertionResult MetricsNow(int port, const Expected& expected,
                                      std::string* exposition = nullptr) {
  const HttpResponse response = HttpGet(port, "/metrics");
  if (response.status != 200) {
    return ::testing::AssertionFailure() << "GET /metrics answered " << response.status;
  }
  std::ostringstream mismatch;
  for (const auto& [series, value] : expected) {
    const std::optional<double> got = MetricValue(response.body, series);
    if (got == value) continue;
    mismatch << "\n  " << series << " is " << (got ? std::to_string(*got) : "absent") << ", want "
             << value;
  }
  if (exposition != nullptr) *exposition = response.body;
  if (mismatch.str().empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "right after the answer:" << mismatch.str();
}

// --- Bodies ------------------------------------------------------------------

// `s` as a JSON string literal.
std::string Quoted(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string RequestLine(const std::string& status, int total_time_ms) {
  return "{\"status\":\"" + status + "\",\"total_time_ms\":" + std::to_string(total_time_ms) +
         ",\"input_tokens\":300,\"output_tokens\":40,\"gpu_memory_mb\":15000}";
}

// What the inference server printed (without line ends): 4 requests (2
// success, 1 error, 1 timeout), 1 event and 2 lines that are not JSON.
const std::vector<std::string>& ServerLines() {
  static const std::vector<std::string> lines = {
      RequestLine("success", 250),
      "INFO 11-14 22:13:20 [metrics.py:351] Avg prompt throughput: 1.2 tokens/s, Running: 3 reqs",
      RequestLine("error", 3100),
      "{\"level\":\"warning\",\"message\":\"KV cache usage 95% {full}, [see] \\\"docs\\\"\"}",
      RequestLine("success", 1250),
      "INFO:     127.0.0.1:51234 - \"GET /health HTTP/1.1\" 200 OK",
      RequestLine("timeout", 30000),
  };
  return lines;
}

Expected ServerLinesCounted(double times = 1) {
  return {
      {RequestsSeries("success"), 2 * times},
      {RequestsSeries("error"), 1 * times},
      {RequestsSeries("timeout"), 1 * times},
      {HttpLines("request"), 4 * times},
      {HttpLines("event"), 1 * times},
      {HttpLines("not_json"), 2 * times},
      {HttpLines("invalid_utf8"), 0},
      {HttpLines("too_long"), 0},
      {HttpLines("dropped"), 0},
      {LinesSeries("stdin", "request"), 0},
  };
}

constexpr char kDate[] = "\"date\":1700000000.123456";

// A record as Fluent Bit's tail input makes it from container stdout (no
// parser): the line, with its newline, in a "log" string.
std::string LogRecord(const std::string& line, const std::string& date = kDate) {
  return "{" + (date.empty() ? "" : date + ",") + "\"log\":" + Quoted(line + "\n") +
         ",\"stream\":\"stdout\",\"time\":\"2023-11-14T22:13:20.123456789Z\"}";
}

// A record after an upstream JSON parser: the line's own fields at the top
// level, next to "date". A line the parser could not read stays a "log" record.
std::string ParsedRecord(const std::string& line) {
  if (line.empty() || line[0] != '{') return LogRecord(line);
  return "{" + std::string(kDate) + "," + line.substr(1);
}

std::string JsonArray(const std::vector<std::string>& records) {
  std::string out = "[";
  for (const std::string& record : records) out += (out.size() > 1 ? "," : "") + record;
  return out + "]";
}

std::string Joined(const std::vector<std::string>& records, const std::string& separator) {
  std::string out;
  for (const std::string& record : records) out += record + separator;
  return out;
}

template <typename F>
std::vector<std::string> Records(F make) {
  std::vector<std::string> out;
  for (const std::string& line : ServerLines()) out.push_back(make(line));
  return out;
}

// gzip (RFC 1952) of `data` repeated `repeat` times, compressed as it goes so
// that a large input never has to exist in memory.
std::string Gzip(const std::string& data, int repeat = 1) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2");
  }
  std::string out;
  std::vector<char> buf(64 * 1024);
  auto run = [&](int flush) {
    int rc = Z_OK;
    do {
      zs.next_out = reinterpret_cast<Bytef*>(buf.data());
      zs.avail_out = static_cast<uInt>(buf.size());
      rc = deflate(&zs, flush);
      out.append(buf.data(), buf.size() - zs.avail_out);
    } while (zs.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
  };
  for (int i = 0; i < repeat; ++i) {
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    zs.avail_in = static_cast<uInt>(data.size());
    run(Z_NO_FLUSH);
  }
  run(Z_FINISH);
  deflateEnd(&zs);
  return out;
}

HttpResponse Post(int port, const std::string& content_type, const std::string& body,
                  std::map<std::string, std::string> headers = {},
                  const std::string& method = "POST") {
  if (!content_type.empty()) headers["Content-Type"] = content_type;
  return HttpSend(port, method, kIngestPath, headers, body);
}

// One keep-alive connection, as Fluent Bit keeps them (net.keepalive on by
// default): several requests, each answer read by its Content-Length.
class Connection {
 public:
  explicit Connection(int port) : fd_(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    timeval tv{10, 0};  // a hung server fails the test instead of hanging it
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      throw std::runtime_error("cannot connect");
    }
  }
  ~Connection() { close(fd_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends a request and reads one answer (status 0 if it cannot be parsed).
  HttpResponse Exchange(const std::string& method, const std::string& path,
                        const std::map<std::string, std::string>& headers,
                        const std::string& body = "") {
    std::string request = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (const auto& [name, value] : headers) request += name + ": " + value + "\r\n";
    if (method == "POST" || method == "PUT") {
      request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    }
    request += "\r\n" + body;
    if (send(fd_, request.data(), request.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(request.size())) {
      return {};
    }
    HttpResponse response;
    std::size_t header_end;
    while ((header_end = pending_.find("\r\n\r\n")) == std::string::npos) {
      if (!Receive()) return response;
    }
    if (pending_.compare(0, 9, "HTTP/1.1 ") != 0) return response;
    std::size_t length = 0;
    for (std::size_t pos = pending_.find("\r\n") + 2; pos < header_end;) {
      const std::size_t eol = pending_.find("\r\n", pos);
      std::string name = pending_.substr(pos, pending_.find(':', pos) - pos);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = pending_.substr(pos + name.size() + 1, eol - pos - name.size() - 1);
      value.erase(0, value.find_first_not_of(' '));
      if (name == "content-length") length = std::stoul(value);
      response.headers[name] = value;
      pos = eol + 2;
    }
    if (method == "HEAD") length = 0;  // RFC 9110: never a body, whatever Content-Length says
    while (pending_.size() < header_end + 4 + length) {
      if (!Receive()) return response;
    }
    response.status = std::atoi(pending_.c_str() + 9);
    response.body = pending_.substr(header_end + 4, length);
    pending_.erase(0, header_end + 4 + length);
    return response;
  }

 private:
  bool Receive() {
    char buf[65536];
    const ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    pending_.append(buf, static_cast<std::size_t>(n));
    return true;
  }
  int fd_;
  std::string pending_;  // received, not yet consumed
};

// --- Fluent Bit's msgpack, gelf, zstd and snappy -------------------------------
//
// The bytes below follow fluent/fluent-bit at d55459d (2026-08-21):
// - plugins/out_http/http.c: compose_payload() sends a msgpack chunk as it
//   is (its records one after another), http_request() sets Content-Type
//   application/msgpack (http.h FLB_HTTP_MIME_MSGPACK), application/json for
//   json, json_stream and gelf, application/x-ndjson for json_lines, and
//   Content-Encoding gzip, snappy or zstd (src/flb_http_client.c
//   flb_http_set_content_encoding_*); compose_payload_gelf() ends each GELF
//   record with "\n".
// - plugins/out_http/http_conf.c: `format` unset was msgpack before 3.0
//   (commit 1e2bb3e6, "out_http: default the output format to JSON"); an
//   unknown value still is.
// - src/flb_log_event_encoder.c flb_log_event_encoder_emit_record(): a record
//   is fixarray 2, fixarray 2, fixext 8 type 0 (seconds, nanoseconds, both
//   big-endian: src/flb_time.c FLB_TIME_ETFMT_V1_FIXEXT), the metadata map,
//   the body map; before 2.1, [timestamp, map]. src/flb_log_event_decoder.c
//   also takes an integer or float timestamp, and marks groups with the
//   EventTime seconds 0xffffffff (start) and 0xfffffffe (end).
// - src/flb_pack_gelf.c flb_msgpack_to_gelf(): {"version":"1.1" first, then
//   each key as , "key": in the record's order, the Gelf_Short_Message_Key
//   renamed short_message, Gelf_Full_Message_Key full_message, other keys
//   prefixed _, then "timestamp" as %li.%03lu when the record has none.
// - src/flb_zstd.c flb_zstd_compress(): ZSTD_compress() at level 1, one frame;
//   src/flb_snappy.c flb_snappy_compress(): snappy_compress(), one raw block
//   (not the framed stream).

// msgpack as msgpack-c's packer (Fluent Bit's) writes each value: its
// smallest form.
class Msgpack {
 public:
  Msgpack& Array(std::uint32_t n) { return Head(n, 0x90, 0xdc, 0xdd); }
  Msgpack& Map(std::uint32_t n) { return Head(n, 0x80, 0xde, 0xdf); }
  Msgpack& Str(const std::string& s) {
    const std::size_t n = s.size();
    if (n < 32) {
      Byte(0xa0 | n);
    } else if (n < 256) {
      Byte(0xd9).Be(n, 1);
    } else if (n < 65536) {
      Byte(0xda).Be(n, 2);
    } else {
      Byte(0xdb).Be(n, 4);
    }
    bytes_ += s;
    return *this;
  }
  Msgpack& Bin(const std::string& s) {
    Byte(0xc4).Be(s.size(), 1);  // short ones only
    bytes_ += s;
    return *this;
  }
  Msgpack& Uint(std::uint64_t v) {
    if (v < 128) return Byte(v);
    if (v < 256) return Byte(0xcc).Be(v, 1);
    if (v < 65536) return Byte(0xcd).Be(v, 2);
    if (v < (1ULL << 32)) return Byte(0xce).Be(v, 4);
    return Byte(0xcf).Be(v, 8);
  }
  Msgpack& Int(std::int64_t v) {
    if (v >= 0) return Uint(static_cast<std::uint64_t>(v));
    const auto bits = static_cast<std::uint64_t>(v);
    if (v >= -32) return Byte(bits & 0xff);
    if (v >= -128) return Byte(0xd0).Be(bits, 1);
    if (v >= -32768) return Byte(0xd1).Be(bits, 2);
    if (v >= INT32_MIN) return Byte(0xd2).Be(bits, 4);
    return Byte(0xd3).Be(bits, 8);
  }
  Msgpack& Double(double v) {
    std::uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    return Byte(0xcb).Be(bits, 8);
  }
  Msgpack& Bool(bool v) { return Byte(v ? 0xc3 : 0xc2); }
  Msgpack& Nil() { return Byte(0xc0); }
  Msgpack& EventTime(std::uint32_t secs, std::uint32_t nanos) {
    return Byte(0xd7).Byte(0).Be(secs, 4).Be(nanos, 4);
  }
  // A JSON value as Fluent Bit's JSON parser packs it (a parser upstream).
  Msgpack& Json(const nlohmann::ordered_json& j) {
    switch (j.type()) {
      case nlohmann::ordered_json::value_t::object:
        Map(static_cast<std::uint32_t>(j.size()));
        for (const auto& [key, value] : j.items()) Str(key).Json(value);
        return *this;
      case nlohmann::ordered_json::value_t::array:
        Array(static_cast<std::uint32_t>(j.size()));
        for (const auto& value : j) Json(value);
        return *this;
      case nlohmann::ordered_json::value_t::string:
        return Str(j.get<std::string>());
      case nlohmann::ordered_json::value_t::number_unsigned:
        return Uint(j.get<std::uint64_t>());
      case nlohmann::ordered_json::value_t::number_integer:
        return Int(j.get<std::int64_t>());
      case nlohmann::ordered_json::value_t::number_float:
        return Double(j.get<double>());
      case nlohmann::ordered_json::value_t::boolean:
        return Bool(j.get<bool>());
      default:
        return Nil();
    }
  }
  Msgpack& Raw(const std::string& bytes) {
    bytes_ += bytes;
    return *this;
  }
  const std::string& bytes() const { return bytes_; }

 private:
  Msgpack& Byte(std::uint64_t b) {
    bytes_.push_back(static_cast<char>(b & 0xff));
    return *this;
  }
  Msgpack& Be(std::uint64_t v, int size) {
    for (int i = size - 1; i >= 0; --i) Byte(v >> (8 * i));
    return *this;
  }
  Msgpack& Head(std::uint32_t n, int fix, int head16, int head32) {
    if (n < 16) return Byte(fix | n);
    if (n < 65536) return Byte(head16).Be(n, 2);
    return Byte(head32).Be(n, 4);
  }
  std::string bytes_;
};

// How a record's timestamp is written.
enum class Stamp {
  kV2,       // Fluent Bit >= 2.1: [[EventTime, {}], map]
  kV1,       // before: [EventTime, map]
  kInteger,  // [seconds, map]
  kFloat,    // [seconds.fraction, map]
};

// One record with `body` (a msgpack map) as its map.
std::string MsgpackRecord(const Msgpack& body, Stamp stamp = Stamp::kV2) {
  Msgpack record;
  record.Array(2);
  switch (stamp) {
    case Stamp::kV2:
      record.Array(2).EventTime(1700000000, 123456789).Map(0);
      break;
    case Stamp::kV1:
      record.EventTime(1700000000, 123456789);
      break;
    case Stamp::kInteger:
      record.Uint(1700000000);
      break;
    case Stamp::kFloat:
      record.Double(1700000000.123456);
      break;
  }
  return record.Raw(body.bytes()).bytes();
}

// The map Fluent Bit's tail input makes of a container's stdout line (docker
// parser): the line, with its newline, under "log".
Msgpack TailMap(const std::string& line) {
  return Msgpack()
      .Map(3)
      .Str("log")
      .Str(line + "\n")
      .Str("stream")
      .Str("stdout")
      .Str("time")
      .Str("2023-11-14T22:13:20.123456789Z");
}

// The map after a JSON parser upstream: the line's own fields; a line the
// parser could not read stays under "log".
Msgpack ParsedMap(const std::string& line) {
  if (line.empty() || line[0] != '{') return TailMap(line);
  return Msgpack().Json(nlohmann::ordered_json::parse(line));
}

template <typename F>
std::string MsgpackRecords(F make, Stamp stamp = Stamp::kV2) {
  std::string out;
  for (const std::string& line : ServerLines()) out += MsgpackRecord(make(line), stamp);
  return out;
}

// Group start and end markers (OpenTelemetry inputs) around the records.
std::string InGroup(const std::string& records) {
  const auto marker = [](std::uint32_t secs, const Msgpack& map) {
    return Msgpack().Array(2).Array(2).EventTime(secs, 0).Map(0).Raw(map.bytes()).bytes();
  };
  return marker(0xffffffff,
                Msgpack().Map(1).Str("resource").Map(1).Str("service.name").Str("vllm")) +
         records + marker(0xfffffffe, Msgpack().Map(0));
}

// A GELF record as `format gelf` with `Gelf_Short_Message_Key log` makes it of
// TailMap(line) (and with `Gelf_Full_Message_Key trace`, of a "trace" key
// holding `full_message`).
std::string GelfRecord(const std::string& line, const std::string& full_message = "") {
  return "{\"version\":\"1.1\", \"short_message\":" + Quoted(line + "\n") +
         (full_message.empty() ? "" : ", \"full_message\":" + Quoted(full_message)) +
         ", \"_stream\":\"stdout\", \"_time\":\"2023-11-14T22:13:20.123456789Z\""
         ", \"timestamp\":1700000000.123}\n";
}

// zstd of `data` repeated `repeat` times, one frame, compressed as it goes (a
// large input never exists in memory); level 1 as Fluent Bit compresses.
std::string Zstd(const std::string& data, int repeat = 1) {
  const std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> cctx(ZSTD_createCCtx(),
                                                                  &ZSTD_freeCCtx);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, 1);
  std::string out;
  std::vector<char> buf(ZSTD_CStreamOutSize());
  for (int i = 0; i <= repeat; ++i) {
    const bool last = i == repeat;
    ZSTD_inBuffer in{last ? nullptr : data.data(), last ? 0 : data.size(), 0};
    std::size_t left;
    do {
      ZSTD_outBuffer o{buf.data(), buf.size(), 0};
      left = ZSTD_compressStream2(cctx.get(), &o, &in, last ? ZSTD_e_end : ZSTD_e_continue);
      if (ZSTD_isError(left)) throw std::runtime_error("ZSTD_compressStream2");
      out.append(buf.data(), o.pos);
    } while (last ? left != 0 : in.pos < in.size);
  }
  return out;
}

std::string Snappy(const std::string& data) {
  std::string out;
  snappy::Compress(data.data(), data.size(), &out);  // the raw block format
  return out;
}

// --- 1. Body forms -----------------------------------------------------------

struct BodyForm {
  std::string name;
  std::string content_type;
  std::string body;
};

std::vector<BodyForm> FluentBitBodyForms() {
  const std::string kIsoDate = "\"date\":\"2023-11-14T22:13:20.123456Z\"";
  return {
      // format json (the default): an array of records, each with a leading "date".
      {"Json", "application/json", JsonArray(Records([](auto& l) { return LogRecord(l); }))},
      // format json, json_date_key false: no "date".
      {"JsonNoDateKey", "application/json",
       JsonArray(Records([](auto& l) { return LogRecord(l, ""); }))},
      // format json, json_date_format iso8601.
      {"JsonIsoDate", "application/json",
       JsonArray(Records([&](auto& l) { return LogRecord(l, kIsoDate); }))},
      // format json after a JSON parser upstream: fields at the top level.
      {"JsonParsedUpstream", "application/json", JsonArray(Records(ParsedRecord))},
      // format json_lines: one record per line.
      {"JsonLines", "application/x-ndjson",
       Joined(Records([](auto& l) { return LogRecord(l); }), "\n")},
      {"JsonLinesParsedUpstream", "application/x-ndjson", Joined(Records(ParsedRecord), "\n")},
      // format json_stream: records one after another, no separator.
      {"JsonStream", "application/json", Joined(Records([](auto& l) { return LogRecord(l); }), "")},
      {"JsonStreamParsedUpstream", "application/json", Joined(Records(ParsedRecord), "")},
      // Older json_lines with Content-Type application/json.
      {"JsonLinesAsApplicationJson", "application/json",
       Joined(Records([](auto& l) { return LogRecord(l); }), "\n")},
      // Raw log lines.
      {"TextPlain", "text/plain", Joined(ServerLines(), "\n")},
      {"TextPlainCrlfWithCharset", "text/plain; charset=utf-8", Joined(ServerLines(), "\r\n")},
      {"NoContentType", "", Joined(ServerLines(), "\n")},
      {"TextPlainNoFinalNewline", "text/plain",
       Joined(ServerLines(), "\n").substr(0, Joined(ServerLines(), "\n").size() - 1)},
      // format msgpack (Fluent Bit >= 2.1; before 3.0 also `format` unset):
      // records one after another, as the chunk holds them.
      {"Msgpack", "application/msgpack", MsgpackRecords(TailMap)},
      {"MsgpackParsedUpstream", "application/msgpack", MsgpackRecords(ParsedMap)},
      // Before Fluent Bit 2.1: [EventTime, map].
      {"MsgpackV1EventTime", "application/msgpack", MsgpackRecords(TailMap, Stamp::kV1)},
      {"MsgpackIntegerTimestamp", "application/msgpack",
       MsgpackRecords(ParsedMap, Stamp::kInteger)},
      {"MsgpackFloatTimestamp", "application/msgpack", MsgpackRecords(TailMap, Stamp::kFloat)},
      // Records of a group (OpenTelemetry inputs): the markers are no lines.
      {"MsgpackInAGroup", "application/msgpack", InGroup(MsgpackRecords(ParsedMap))},
      // format gelf, Gelf_Short_Message_Key log: the line is short_message.
      {"Gelf", "application/json", Joined(Records([](auto& l) { return GelfRecord(l); }), "")},
      // ... and with Gelf_Full_Message_Key: full_message is not the line.
      {"GelfWithFullMessage", "application/json",
       Joined(Records([](auto& l) { return GelfRecord(l, l); }), "")},
  };
}

void PrintTo(const BodyForm& form, std::ostream* os) { *os << form.name; }

class IngestBodyFormTest : public ::testing::TestWithParam<BodyForm> {};

TEST_P(IngestBodyFormTest, AnswersNoContentAndCountsEveryLineBeforeAnswering) {
  const BodyForm& form = GetParam();
  Daemon daemon = StartDaemon({kEnable});
  const HttpResponse response = Post(daemon.port, form.content_type, form.body);
  ASSERT_EQ(response.status, 204) << response.body << "\nbody sent:\n" << form.body;
  EXPECT_EQ(response.body, "");

  Expected expected = ServerLinesCounted();
  expected.push_back({kHttpBytes, static_cast<double>(form.body.size())});
  expected.push_back({Answers(204), 1});
  expected.push_back({"qwen_request_duration_ms_count", 4});
  expected.push_back({"qwen_request_duration_ms_sum", 250 + 3100 + 1250 + 30000});
  std::string exposition;
  EXPECT_TRUE(MetricsNow(daemon.port, expected, &exposition)) << "body sent:\n" << form.body;
  EXPECT_EQ(SumOfSamples(exposition, "llm_log_exporter_lines_total{source=\"http\""), 7);

  // The same body again: counts add up, nothing is cached or deduplicated.
  ASSERT_EQ(Post(daemon.port, form.content_type, form.body).status, 204);
  expected = ServerLinesCounted(2);
  expected.push_back({kHttpBytes, 2.0 * static_cast<double>(form.body.size())});
  expected.push_back({Answers(204), 2});
  EXPECT_TRUE(MetricsNow(daemon.port, expected));
}

INSTANTIATE_TEST_SUITE_P(FluentBit, IngestBodyFormTest, ::testing::ValuesIn(FluentBitBodyForms()),
                         [](const ::testing::TestParamInfo<BodyForm>& param_info) {
                           return param_info.param.name;
                         });

TEST(IngestTest, ALogStringWithSeveralLinesCountsAsEachOfThem) {
  Daemon daemon = StartDaemon({kEnable});
  // A traceback and two requests in one "log" string (no final newline, as a
  // CRI runtime's partial lines), then a record whose "log" is not a string:
  // that one counts as a line of its own (an event: no status, no total_time_ms).
  const std::string body = JsonArray({
      "{\"date\":1.5,\"log\":" +
          Quoted("Traceback (most recent call last):\n  File \"x.py\", line 1\nValueError: x\n" +
                 RequestLine("success", 10) + "\r\n" + RequestLine("error", 20)) +
          "}",
      "{\"date\":1.5,\"log\":{\"nested\":true},\"stream\":\"stdout\"}",
  });
  ASSERT_EQ(Post(daemon.port, "application/json", body).status, 204);
  EXPECT_TRUE(MetricsNow(daemon.port, {
                                          {HttpLines("not_json"), 3},
                                          {HttpLines("request"), 2},
                                          {HttpLines("event"), 1},
                                          {RequestsSeries("success"), 1},
                                          {RequestsSeries("error"), 1},
                                      }));
}

// A record whose "log" is "" (an empty line as Fluent Bit tails it from a CRI
// runtime, which strips the newline) is one empty line, counted as not_json
// like an empty line on stdin or Docker's "log":"\n".
TEST(IngestTest, EmptyLogStringCountsAsOneEmptyLine) {
  Daemon daemon = StartDaemon({kEnable});
  const std::string body = JsonArray({"{\"date\":1.5,\"log\":\"\",\"stream\":\"stdout\"}",
                                      "{\"date\":1.5,\"log\":\"\\n\",\"stream\":\"stdout\"}"});
  ASSERT_EQ(Post(daemon.port, "application/json", body).status, 204);
  EXPECT_TRUE(MetricsNow(daemon.port, {{HttpLines("not_json"), 2}}));
}

TEST(IngestTest, EmptyBodiesAreAcceptedAndCountNothing) {
  Daemon daemon = StartDaemon({kEnable});
  EXPECT_EQ(Post(daemon.port, "application/json", "[]").status, 204);
  EXPECT_EQ(Post(daemon.port, "application/json", "").status, 204);
  EXPECT_EQ(Post(daemon.port, "application/x-ndjson", "").status, 204);
  EXPECT_TRUE(MetricsNow(daemon.port, {{Answers(204), 3}, {HttpLines("not_json"), 0}}));
}

// --- 2. Methods --------------------------------------------------------------

TEST(IngestTest, PutWorksLikePostAndOtherMethodsGet405) {
  Daemon daemon = StartDaemon({kEnable});
  const HttpResponse put =
      Post(daemon.port, "application/x-ndjson",
           RequestLine("success", 100) + "\n" + RequestLine("error", 100), {}, "PUT");
  EXPECT_EQ(put.status, 204) << put.body;
  EXPECT_TRUE(MetricsNow(daemon.port, {{RequestsSeries("success"), 1},
                                       {RequestsSeries("error"), 1},
                                       {HttpLines("request"), 2},
                                       {Answers(204), 1}}));

  const HttpResponse get = HttpGet(daemon.port, kIngestPath);
  EXPECT_EQ(get.status, 405);
  EXPECT_EQ(Header(get, "allow"), "POST, PUT");
  const HttpResponse del = HttpGet(daemon.port, kIngestPath, {}, "DELETE");
  EXPECT_EQ(del.status, 405);
  EXPECT_EQ(Header(del, "allow"), "POST, PUT");
  EXPECT_TRUE(MetricsNow(daemon.port, {{Answers(405), 2}, {HttpLines("request"), 2}}));
  // The telemetry path is unaffected.
  EXPECT_EQ(HttpGet(daemon.port, "/metrics").status, 200);
}

// A HEAD request to the ingest path is answered 405 without a body (RFC 9110):
// a body would be read as the start of the next answer on a keep-alive connection.
TEST(IngestTest, HeadOnTheIngestPathIs405WithoutABody) {
  Daemon daemon = StartDaemon({kEnable});
  Connection connection(daemon.port);
  const HttpResponse head = connection.Exchange("HEAD", kIngestPath, {});
  EXPECT_EQ(head.status, 405);
  EXPECT_EQ(Header(head, "allow"), "POST, PUT");
  const HttpResponse next = connection.Exchange("GET", "/-/healthy", {});
  EXPECT_EQ(next.status, 200) << "the HEAD answer carried a body, taken for the next answer";
  EXPECT_EQ(next.body, "Healthy\n");
}

// Fluent Bit keeps its connections open: several bodies, and refused ones
// (whose bodies must still be consumed), on one connection.
TEST(IngestTest, OneKeepAliveConnectionCarriesManyBodies) {
  Daemon daemon = StartDaemon({kEnable});
  Connection connection(daemon.port);
  const std::string ndjson = Joined(Records([](auto& l) { return LogRecord(l); }), "\n");
  const std::string array = JsonArray(Records(ParsedRecord));
  const std::map<std::string, std::string> kNdjson = {{"Content-Type", "application/x-ndjson"}};
  EXPECT_EQ(connection.Exchange("POST", kIngestPath, kNdjson, ndjson).status, 204);
  EXPECT_EQ(connection.Exchange("POST", kIngestPath, {{"Content-Type", "application/xml"}}, ndjson)
                .status,
            415);
  EXPECT_EQ(connection.Exchange("POST", kIngestPath, {{"Content-Type", "application/json"}}, array)
                .status,
            204);
  EXPECT_EQ(
      connection.Exchange("POST", kIngestPath, {{"Content-Type", "application/json"}}, "hello")
          .status,
      400);
  EXPECT_EQ(connection
                .Exchange("POST", kIngestPath,
                          {{"Content-Type", "text/plain"}, {"Content-Encoding", "gzip"}},
                          Gzip(Joined(ServerLines(), "\n")))
                .status,
            204);
  Expected expected = ServerLinesCounted(3);
  expected.push_back({Answers(204), 3});
  expected.push_back({Answers(415), 1});
  expected.push_back({Answers(400), 1});
  EXPECT_TRUE(MetricsNow(daemon.port, expected));
  // Scrapes work on the same connection too.
  const HttpResponse metrics = connection.Exchange("GET", "/metrics", {});
  EXPECT_EQ(metrics.status, 200);
  EXPECT_EQ(MetricValue(metrics.body, HttpLines("request")), 12);
}

// --- 3. gzip -----------------------------------------------------------------

TEST(IngestTest, GzipBodyIsDecodedAndCountedWithItsCompressedSize) {
  Daemon daemon = StartDaemon({kEnable});
  const std::string plain = Joined(Records([](auto& l) { return LogRecord(l); }), "\n");
  const std::string gzipped = Gzip(plain);
  ASSERT_EQ(Gunzip(gzipped), plain);  // the helper itself
  const HttpResponse response =
      Post(daemon.port, "application/x-ndjson", gzipped, {{"Content-Encoding", "gzip"}});
  ASSERT_EQ(response.status, 204) << response.body;
  Expected expected = ServerLinesCounted();
  expected.push_back({kHttpBytes, static_cast<double>(gzipped.size())});
  expected.push_back({Answers(204), 1});
  EXPECT_TRUE(MetricsNow(daemon.port, expected));

  // format json, gzip, as Fluent Bit's `compress gzip` sends it.
  const std::string array = Gzip(JsonArray(Records(ParsedRecord)));
  ASSERT_EQ(Post(daemon.port, "application/json", array, {{"Content-Encoding", "gzip"}}).status,
            204);
  expected = ServerLinesCounted(2);
  expected.push_back({kHttpBytes, static_cast<double>(gzipped.size() + array.size())});
  EXPECT_TRUE(MetricsNow(daemon.port, expected));
}

TEST(IngestTest, CorruptGzipIs400AndCountsNothing) {
  Daemon daemon = StartDaemon({kEnable});
  const std::string good = Gzip(Joined(ServerLines(), "\n"));
  std::string bad_crc = good;
  bad_crc[bad_crc.size() - 6] ^= 0x55;  // in the CRC-32 of the trailer
  const std::vector<std::pair<std::string, std::string>> bodies = {
      {"not gzip at all", Joined(ServerLines(), "\n")},
      {"truncated", good.substr(0, good.size() / 2)},
      {"wrong CRC", bad_crc},
      {"empty", ""},
  };
  for (const auto& [what, body] : bodies) {
    SCOPED_TRACE(what);
    const HttpResponse response =
        Post(daemon.port, "text/plain", body, {{"Content-Encoding", "gzip"}});
    EXPECT_EQ(response.status, 400) << response.body;
  }
  EXPECT_TRUE(MetricsNow(daemon.port, {{Answers(400), 4},
                                       {Unreadable("gzip"), 4},
                                       {Answers(204), 0},
                                       {kHttpBytes, 0},
                                       {HttpLines("not_json"), 0},
                                       {HttpLines("request"), 0},
                                       {RequestsSeries("success"), 0}}));
  // Still accepting.
  EXPECT_EQ(Post(daemon.port, "text/plain", good, {{"Content-Encoding", "gzip"}}).status, 204);
  EXPECT_TRUE(MetricsNow(daemon.port, {{HttpLines("request"), 4}}));
}

// A gzip body of several members (RFC 1952 §2.2: what `cat a.gz b.gz` or a
// client that gzips per batch makes) is decoded whole: a 204 promises every
// line was counted.
TEST(IngestTest, MultiMemberGzipBodyIsDecodedWhole) {
  Daemon daemon = StartDaemon({kEnable});
  const std::string member = Gzip(Joined(ServerLines(), "\n"));
  ASSERT_EQ(Post(daemon.port, "text/plain", member + member, {{"Content-Encoding", "gzip"}}).status,
            204);
  EXPECT_TRUE(MetricsNow(daemon.port, ServerLinesCounted(2)));
}

// Content codings and auth schemes are case-insensitive (RFC 9110 §8.4.1, §11.1).
TEST(IngestTest, ContentCodingAndAuthSchemeAreCaseInsensitive) {
  TempDir dir;
  Daemon daemon = StartDaemon({kEnable, "--ingest.bearer-token-file=" + dir.Write("t", "tok\n")});
  EXPECT_EQ(Post(daemon.port, "text/plain", Gzip(Joined(ServerLines(), "\n")),
                 {{"Content-Encoding", "GZIP"}, {"Authorization", "Bearer tok"}})
                .status,
            204);
  EXPECT_EQ(Post(daemon.port, "text/plain", Joined(ServerLines(), "\n"),
                 {{"Authorization", "bearer tok"}})
                .status,
            204);
  EXPECT_TRUE(MetricsNow(daemon.port, ServerLinesCounted(2)));
}

// --- 4. Size limits ----------------------------------------------------------

TEST(IngestTest, BodyOverMaxBodyBytesIs413AndCountsNothing) {
  Daemon daemon = StartDaemon({kEnable, "--ingest.max-body-bytes=4096"});
  std::string body;
  while (body.size() < 10000) body += RequestLine("success", 100) + "\n";
  body.resize(10000);
  const HttpResponse response = Post(daemon.port, "application/x-ndjson", body);
  EXPECT_EQ(response.status, 413) << response.body;

  // Over the limit only once decoded: also 413.
  std::string decoded;
  while (decoded.size() < 5000) decoded += RequestLine("success", 100) + "\n";
  const std::string gzipped = Gzip(decoded);
  ASSERT_LT(gzipped.size(), 4096u);
  EXPECT_EQ(
      Post(daemon.port, "application/x-ndjson", gzipped, {{"Content-Encoding", "gzip"}}).status,
      413);

  EXPECT_TRUE(MetricsNow(daemon.port, {{Answers(413), 2},
                                       {kHttpBytes, 0},
                                       {HttpLines("request"), 0},
                                       {RequestsSeries("success"), 0}}));
  // A body at the limit is fine.
  std::string at_limit;
  while (at_limit.size() + RequestLine("error", 1).size() + 1 <= 4096) {
    at_limit += RequestLine("error", 1) + "\n";
  }
  at_limit.append(4096 - at_limit.size(), '\n');
  ASSERT_EQ(at_limit.size(), 4096u);
  EXPECT_EQ(Post(daemon.port, "application/x-ndjson", at_limit).status, 204);
  EXPECT_TRUE(MetricsNow(daemon.port, {{kHttpBytes, 4096}, {Answers(204), 1}}));
}

TEST(IngestTest, LineOverMaxLineBytesInABodyIsCountedAsTooLong) {
  Daemon daemon = StartDaemon({kEnable, "--input.max-line-bytes=200"});
  const std::string long_line =
      "{\"status\":\"success\",\"pad\":\"" + std::string(300, 'x') + "\"}";
  const std::string body = JsonArray(
      {LogRecord(RequestLine("error", 1)), LogRecord(long_line),
       "{\"date\":1.5,\"status\":\"success\",\"pad\":\"" + std::string(300, 'y') + "\"}"});
  ASSERT_EQ(Post(daemon.port, "application/json", body).status, 204);
  EXPECT_TRUE(MetricsNow(daemon.port, {{HttpLines("too_long"), 2},
                                       {HttpLines("request"), 1},
                                       {RequestsSeries("error"), 1},
                                       {RequestsSeries("success"), 0}}));
}

// Peak resident memory of `pid` in bytes (VmHWM), or -1.
long PeakRssBytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6) * 1024;
  }
  return -1;
}

TEST(IngestTest, GzipBombIs413WithoutInflatingItAndTheDaemonKeepsServing) {
  Daemon daemon = StartDaemon({kEnable});  // default limit: 16 MiB
  constexpr int kMiB = 1 << 20;
  constexpr int kInflatedMiB = 256;
  const std::string bomb = Gzip(std::string(kMiB, '\0'), kInflatedMiB);
  ASSERT_LT(bomb.size(), 1u * kMiB);  // about 250 KB: far under the limit as sent
  const HttpResponse response =
      Post(daemon.port, "text/plain", bomb, {{"Content-Encoding", "gzip"}});
  EXPECT_EQ(response.status, 413) << response.body;

  EXPECT_EQ(daemon.process->Wait(milliseconds(0)), -1) << "the daemon exited";
  EXPECT_TRUE(
      MetricsNow(daemon.port, {{Answers(413), 1}, {kHttpBytes, 0}, {HttpLines("not_json"), 0}}));
  // Stopped near the 16 MiB limit, never inflated to 256 MiB.
  const long peak = PeakRssBytes(daemon.process->pid());
  EXPECT_GT(peak, 0);
  EXPECT_LT(peak, 192L * kMiB) << "peak RSS " << peak / kMiB << " MiB";
  std::printf("[          ] daemon peak RSS %ld MiB\n", peak / kMiB);
  // And it still takes bodies.
  EXPECT_EQ(Post(daemon.port, "text/plain", Joined(ServerLines(), "\n")).status, 204);
  EXPECT_TRUE(MetricsNow(daemon.port, ServerLinesCounted()));
}

// Resident memory of `pid` now in bytes (VmRSS), or -1.
long RssBytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6) * 1024;
  }
  return -1;
}

TEST(IngestTest, ParallelGzipBombsStayWithinTheMemoryBudgetAndRefusalsSayRetry) {
  constexpr long kMiB = 1 << 20;
  // Every HTTP worker used to inflate its own bomb at once: 8 of them took
  // RSS to 251 MiB, and it stayed there.
  Daemon daemon = StartDaemon({kEnable, "--ingest.memory-budget-bytes=67108864"});
  const long before = RssBytes(daemon.process->pid());
  const std::string bomb = Gzip(std::string(kMiB, '\0'), 64);  // 64 MiB inflated
  std::vector<int> statuses(8);
  std::atomic<int> without_retry_after{0};
  for (int round = 0; round < 3; ++round) {
    std::vector<std::thread> posters;
    for (std::size_t i = 0; i < statuses.size(); ++i) {
      posters.emplace_back([&, i] {
        const HttpResponse r =
            Post(daemon.port, "text/plain", bomb, {{"Content-Encoding", "gzip"}});
        statuses[i] = r.status;
        if ((r.status == 429 || r.status == 503) && Header(r, "retry-after").empty()) {
          ++without_retry_after;
        }
      });
    }
    for (std::thread& t : posters) t.join();
    for (int status : statuses) {
      EXPECT_TRUE(status == 413 || status == 429 || status == 503) << status;
    }
  }
  EXPECT_EQ(without_retry_after.load(), 0);
  const long peak = PeakRssBytes(daemon.process->pid());
  // Given back, once the workers that answered have freed what they held
  // (on a loaded machine, some moments after the last answer): only the
  // buffers kept for reuse stay.
  const long given_back = before + 32 * kMiB;
  long after = RssBytes(daemon.process->pid());
  for (const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
       after >= given_back && std::chrono::steady_clock::now() < deadline;) {
    after = RssBytes(daemon.process->pid());
  }
  std::printf("[          ] RSS before %ld MiB, peak %ld MiB, after %ld MiB\n", before / kMiB,
              peak / kMiB, after / kMiB);
#if !defined(LLE_SANITIZED_BUILD)  // cmake/Sanitizers.cmake
  // The budget (64 MiB) plus the daemon's own: far from the 256Mi limit.
  EXPECT_LT(peak, before + 64 * kMiB + 48 * kMiB);
  EXPECT_LT(after, given_back);
#endif
  EXPECT_EQ(Post(daemon.port, "text/plain", Joined(ServerLines(), "\n")).status, 204);
  EXPECT_TRUE(MetricsNow(daemon.port, ServerLinesCounted()));
}

// --- 5. Bearer token ---------------------------------------------------------

TEST(IngestTest, BearerTokenIsRequiredWhenConfigured) {
  TempDir dir;
  const std::string token_file = dir.Write("token", "s3cret-T0ken\n");
  Daemon daemon = StartDaemon({kEnable, "--ingest.bearer-token-file=" + token_file});
  const std::string body = Joined(ServerLines(), "\n");

  const HttpResponse missing = Post(daemon.port, "text/plain", body);
  EXPECT_EQ(missing.status, 401);
  EXPECT_NE(Header(missing, "www-authenticate").find("Bearer"), std::string::npos)
      << Header(missing, "www-authenticate");
  for (const std::string wrong : {"Bearer wrong", "Bearer s3cret-T0ke", "Bearer s3cret-T0ken2",
                                  "s3cret-T0ken", "Basic czNjcmV0LVQwa2Vu"}) {
    SCOPED_TRACE(wrong);
    const HttpResponse response = Post(daemon.port, "text/plain", body, {{"Authorization", wrong}});
    EXPECT_EQ(response.status, 401);
    EXPECT_NE(Header(response, "www-authenticate"), "");
  }
  EXPECT_TRUE(MetricsNow(daemon.port,
                         {{Answers(401), 6}, {kHttpBytes, 0}, {RequestsSeries("success"), 0}}));

  const HttpResponse right =
      Post(daemon.port, "text/plain", body, {{"Authorization", "Bearer s3cret-T0ken"}});
  EXPECT_EQ(right.status, 204) << right.body;
  Expected expected = ServerLinesCounted();
  expected.push_back({Answers(204), 1});
  expected.push_back({Answers(401), 6});
  EXPECT_TRUE(MetricsNow(daemon.port, expected));
  // Scrapes need no token.
  EXPECT_EQ(HttpGet(daemon.port, "/metrics").status, 200);
}

TEST(IngestTest, MissingBearerTokenFileExits1WithOneLine) {
  TempDir dir;
  const std::string missing = dir.path() + "/no-such-token";
  const RunResult result = RunBinary(
      {"--web.listen-address=127.0.0.1:0", kEnable, "--ingest.bearer-token-file=" + missing});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(CountLines(result.err), 1) << result.err;
  EXPECT_NE(result.err.find("--ingest.bearer-token-file"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find(missing), std::string::npos) << result.err;
}

TEST(IngestTest, EmptyBearerTokenFileExits1WithOneLine) {
  TempDir dir;
  const std::string empty = dir.Write("empty", "\n");
  const RunResult result = RunBinary(
      {"--web.listen-address=127.0.0.1:0", kEnable, "--ingest.bearer-token-file=" + empty});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(CountLines(result.err), 1) << result.err;
  EXPECT_NE(result.err.find("--ingest.bearer-token-file"), std::string::npos) << result.err;
}

// --- 6. Unsupported and unreadable bodies ------------------------------------

TEST(IngestTest, UnknownContentTypeIs415AndUnreadableJsonIs400) {
  Daemon daemon = StartDaemon({kEnable});
  const std::string lines = Joined(ServerLines(), "\n");
  EXPECT_EQ(Post(daemon.port, "application/xml", lines).status, 415);
  EXPECT_EQ(Post(daemon.port, "text/plain", lines, {{"Content-Encoding", "br"}}).status, 415);
  for (const std::string& body :
       std::vector<std::string>{"hello", "hello\n" + RequestLine("success", 1), "42", "\"x\""}) {
    SCOPED_TRACE(body);
    EXPECT_EQ(Post(daemon.port, "application/json", body).status, 400);
  }
  EXPECT_TRUE(MetricsNow(daemon.port, {{Answers(415), 2},
                                       {Answers(400), 4},
                                       {Unreadable("json"), 4},
                                       {Unreadable("gzip"), 0},
                                       {Answers(204), 0},
                                       {kHttpBytes, 0},
                                       {HttpLines("request"), 0},
                                       {HttpLines("not_json"), 0},
                                       {RequestsSeries("success"), 0}}));
}

// --- 7. Concurrent posters ---------------------------------------------------

// `threads` clients each POST `bodies` NDJSON bodies of `lines_per_body`
// request lines; a 429 must carry Retry-After and is retried, like Fluent Bit
// does, so in the end every line is counted exactly once.
void PostConcurrentlyAndCheckTotals(int threads, int bodies, int lines_per_body) {
  Daemon daemon = StartDaemon({kEnable});
  std::string body;
  for (int i = 0; i < lines_per_body; ++i) body += RequestLine("success", i % 7000) + "\n";

  // As Fluent Bit does: a 429 (no free slot) or 503 (memory budget in use),
  // both with Retry-After, and a 408 (the body came too slowly, as it may
  // under a sanitizer on a loaded machine) are sent again.
  std::atomic<int> busy{0}, over_budget{0}, too_slow{0}, busy_without_retry_after{0}, failures{0};
  std::vector<std::string> failure_text(threads);
  std::vector<std::thread> posters;
  for (int t = 0; t < threads; ++t) {
    posters.emplace_back([&, t] {
      for (int b = 0; b < bodies; ++b) {
        const auto deadline = Clock::now() + kDeadline;
        for (;;) {  // retry what a client retries, give up on anything else
          const HttpResponse r = Post(daemon.port, "application/x-ndjson", body);
          if (r.status == 204) break;
          if ((r.status == 429 || r.status == 503 || r.status == 408) && Clock::now() < deadline) {
            ++(r.status == 429 ? busy : r.status == 503 ? over_budget : too_slow);
            if (r.status != 408 && Header(r, "retry-after").empty()) ++busy_without_retry_after;
            std::this_thread::yield();
            continue;
          }
          ++failures;
          failure_text[t] = "status " + std::to_string(r.status) + ": " + r.body + "\n";
          return;
        }
      }
    });
  }
  for (std::thread& poster : posters) poster.join();
  std::string failed;
  for (const std::string& text : failure_text) failed += text;
  ASSERT_EQ(failures.load(), 0) << failed;
  EXPECT_EQ(busy_without_retry_after.load(), 0) << "429 or 503 without Retry-After";
  std::printf("[          ] answers retried: %d 429, %d 503, %d 408\n", busy.load(),
              over_budget.load(), too_slow.load());

  const double total = static_cast<double>(threads) * bodies * lines_per_body;
  const Expected expected = {
      {RequestsSeries("success"), total},
      {HttpLines("request"), total},
      {HttpLines("not_json"), 0},
      {HttpLines("dropped"), 0},
      {"qwen_request_duration_ms_count", total},
      {Answers(204), threads * bodies},
      {Answers(429), busy.load()},
      {Answers(503), over_budget.load()},
      {Answers(408), too_slow.load()},
      {kHttpBytes, static_cast<double>(threads) * bodies * static_cast<double>(body.size())}};
  EXPECT_TRUE(MetricsNow(daemon.port, expected));
}

TEST(IngestTest, ConcurrentPostersRetrying429LoseNothing) {
  PostConcurrentlyAndCheckTotals(/*threads=*/4, /*bodies=*/50, /*lines_per_body=*/20);
}

// Bodies big enough that the two ingest pipelines are often both busy, so the
// 429 path is taken (how often depends on the machine; the totals may not).
TEST(IngestTest, ConcurrentPostersOfLargeBodiesRetrying429LoseNothing) {
  PostConcurrentlyAndCheckTotals(/*threads=*/4, /*bodies=*/10, /*lines_per_body=*/2000);
}

// --- 8. stdin and HTTP together ----------------------------------------------

TEST(IngestTest, StdinAndHttpCountUnderTheirOwnSourceIntoTheSameMetrics) {
  Daemon daemon = StartDaemon({kEnable});
  const std::string stdin_log = RequestLine("success", 100) + "\n" + RequestLine("success", 200) +
                                "\n" + RequestLine("error", 300) + "\nnot json\n";
  daemon.process->Write(stdin_log);
  const std::string http_body = RequestLine("success", 400) + "\n" + RequestLine("timeout", 500) +
                                "\n{\"level\":\"info\",\"message\":\"x\"}\n";
  ASSERT_EQ(Post(daemon.port, "application/x-ndjson", http_body).status, 204);
  // The HTTP lines are counted already; stdin's may still be on their way.
  EXPECT_TRUE(MetricsNow(daemon.port, {{HttpLines("request"), 2},
                                       {HttpLines("event"), 1},
                                       {HttpLines("not_json"), 0},
                                       {RequestsSeries("timeout"), 1},
                                       {kHttpBytes, static_cast<double>(http_body.size())}}));
  EXPECT_TRUE(WaitForMetrics(
      daemon.port,
      {{LinesSeries("stdin", "request"), 3},
       {LinesSeries("stdin", "not_json"), 1},
       {LinesSeries("stdin", "event"), 0},
       {"llm_log_exporter_bytes_total{source=\"stdin\"}", static_cast<double>(stdin_log.size())},
       {HttpLines("request"), 2},
       {HttpLines("event"), 1},
       {RequestsSeries("success"), 3},
       {RequestsSeries("error"), 1},
       {RequestsSeries("timeout"), 1},
       {"qwen_request_duration_ms_count", 5},
       {"qwen_request_duration_ms_sum", 100 + 200 + 300 + 400 + 500}}));
}

// --- 9. Disabled by default --------------------------------------------------

TEST(IngestTest, WithoutIngestEnableThePathIsNoIngestEndpoint) {
  Daemon daemon = StartDaemon();
  const HttpResponse post = Post(daemon.port, "application/x-ndjson", RequestLine("success", 1));
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(Header(post, "allow"), "GET, HEAD");
  EXPECT_EQ(HttpGet(daemon.port, kIngestPath).status, 404);
  const HttpResponse metrics = HttpGet(daemon.port, "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.body.find("source=\"http\""), std::string::npos) << metrics.body;
  EXPECT_EQ(metrics.body.find("llm_log_exporter_http_ingest_requests_total"), std::string::npos);
  EXPECT_EQ(MetricValue(metrics.body, RequestsSeries("success")), 0);
}

// --- 10. Flags ---------------------------------------------------------------

TEST(IngestTest, IngestPathEqualToTelemetryPathExits2WithOneLine) {
  for (const std::vector<std::string>& flags :
       {std::vector<std::string>{kEnable, "--ingest.path=/metrics"},
        std::vector<std::string>{kEnable, "--web.telemetry-path=/custom",
                                 "--ingest.path=/custom"}}) {
    SCOPED_TRACE(flags.back());
    std::vector<std::string> argv = {"--web.listen-address=127.0.0.1:0"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    const RunResult result = RunBinary(argv);
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_EQ(CountLines(result.err), 1) << result.err;
    EXPECT_NE(result.err.find("--ingest.path"), std::string::npos) << result.err;
  }
}

TEST(IngestTest, IngestPathMovesTheEndpoint) {
  Daemon daemon = StartDaemon({kEnable, "--ingest.path=/fluent"});
  EXPECT_EQ(HttpSend(daemon.port, "POST", "/fluent", {{"Content-Type", "text/plain"}},
                     RequestLine("success", 1))
                .status,
            204);
  EXPECT_EQ(Post(daemon.port, "text/plain", RequestLine("success", 1)).status, 405);
  EXPECT_TRUE(MetricsNow(daemon.port, {{RequestsSeries("success"), 1}, {Answers(204), 1}}));
}

TEST(IngestTest, IngestAtTheRootKeepsTheLandingPage) {
  // --ingest.path=/ for senders that cannot set a path: writes to / are
  // ingested, while GET / still shows the landing page.
  Daemon daemon = StartDaemon({kEnable, "--ingest.path=/"});
  EXPECT_EQ(HttpSend(daemon.port, "POST", "/", {{"Content-Type", "text/plain"}},
                     RequestLine("success", 1))
                .status,
            204);
  const HttpResponse page = HttpGet(daemon.port, "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("/metrics"), std::string::npos);
  EXPECT_TRUE(MetricsNow(daemon.port, {{RequestsSeries("success"), 1}, {Answers(204), 1}}));
}

// --- 8. Fluent Bit's compress: zstd and snappy; unreadable msgpack ----------

// Every format as Fluent Bit sends it with `compress zstd`, `snappy` and
// `gzip`: decoded, counted with the size sent.
TEST(IngestTest, FluentBitCompressZstdSnappyAndGzipAreDecoded) {
  Daemon daemon = StartDaemon({kEnable});
  const std::vector<std::pair<std::string, std::string>> plain = {
      {"application/msgpack", MsgpackRecords(TailMap)},
      {"application/msgpack", MsgpackRecords(ParsedMap)},
      {"application/json", JsonArray(Records([](auto& l) { return LogRecord(l); }))},
      {"application/json", Joined(Records([](auto& l) { return GelfRecord(l); }), "")},
      {"application/x-ndjson", Joined(Records([](auto& l) { return LogRecord(l); }), "\n")},
  };
  const std::vector<std::pair<std::string, std::string (*)(const std::string&)>> codings = {
      {"zstd", [](const std::string& s) { return Zstd(s); }},
      {"snappy", Snappy},
      {"gzip", [](const std::string& s) { return Gzip(s); }},
  };
  double bytes = 0;
  int bodies = 0;
  for (const auto& [coding, compress] : codings) {
    for (const auto& [content_type, body] : plain) {
      SCOPED_TRACE(coding + " " + content_type);
      const std::string sent = compress(body);
      ASSERT_NE(sent, body);
      const HttpResponse response =
          Post(daemon.port, content_type, sent,
               {{"Content-Encoding", coding}, {"User-Agent", "Fluent-Bit"}});
      ASSERT_EQ(response.status, 204) << response.body;
      bytes += static_cast<double>(sent.size());
      ++bodies;
      Expected expected = ServerLinesCounted(bodies);
      expected.push_back({kHttpBytes, bytes});
      expected.push_back({Answers(204), bodies});
      EXPECT_TRUE(MetricsNow(daemon.port, expected));
    }
  }
}

// A zstd body of several frames (one per batch) is decoded whole.
TEST(IngestTest, ZstdBodyOfSeveralFramesIsDecodedWhole) {
  Daemon daemon = StartDaemon({kEnable});
  const std::string frame = Zstd(MsgpackRecords(TailMap));
  ASSERT_EQ(Post(daemon.port, "application/msgpack", frame + frame, {{"Content-Encoding", "zstd"}})
                .status,
            204);
  EXPECT_TRUE(MetricsNow(daemon.port, ServerLinesCounted(2)));
}

TEST(IngestTest, CorruptZstdAndSnappyAre400CountedByReason) {
  Daemon daemon = StartDaemon({kEnable});
  const std::string lines = Joined(ServerLines(), "\n");
  const std::string zstd = Zstd(lines);
  const std::string snappy = Snappy(lines);
  for (const std::string& body :
       {lines, zstd.substr(0, zstd.size() / 2), std::string(), Gzip(lines)}) {
    EXPECT_EQ(Post(daemon.port, "text/plain", body, {{"Content-Encoding", "zstd"}}).status, 400);
  }
  for (const std::string& body : {snappy.substr(0, snappy.size() / 2), std::string(),
                                  std::string("\xff\xff\xff\xff\xff", 5), Zstd(lines)}) {
    EXPECT_EQ(Post(daemon.port, "text/plain", body, {{"Content-Encoding", "snappy"}}).status, 400);
  }
  EXPECT_TRUE(MetricsNow(daemon.port, {{Answers(400), 8},
                                       {Unreadable("zstd"), 4},
                                       {Unreadable("snappy"), 4},
                                       {Unreadable("gzip"), 0},
                                       {kHttpBytes, 0},
                                       {HttpLines("not_json"), 0},
                                       {RequestsSeries("success"), 0}}));
  EXPECT_EQ(Post(daemon.port, "text/plain", zstd, {{"Content-Encoding", "zstd"}}).status, 204);
  EXPECT_EQ(Post(daemon.port, "text/plain", snappy, {{"Content-Encoding", "Snappy"}}).status, 204);
  EXPECT_TRUE(MetricsNow(daemon.port, ServerLinesCounted(2)));
}

TEST(IngestTest, ZstdAndSnappyBombsAre413WithoutInflatingThem) {
  Daemon daemon = StartDaemon({kEnable});  // default limit: 16 MiB
  constexpr int kMiB = 1 << 20;
  const std::string zstd_bomb = Zstd(std::string(kMiB, '\0'), 256);  // 256 MiB inflated
  ASSERT_LT(zstd_bomb.size(), 1u * kMiB);
  EXPECT_EQ(Post(daemon.port, "text/plain", zstd_bomb, {{"Content-Encoding", "zstd"}}).status, 413);
  const std::string snappy_bomb = Snappy(std::string(32 * kMiB, '\0'));
  ASSERT_LT(snappy_bomb.size(), 16u * kMiB);
  EXPECT_EQ(Post(daemon.port, "text/plain", snappy_bomb, {{"Content-Encoding", "snappy"}}).status,
            413);
  // A snappy block that says it holds 4 GiB - 1: refused on its length alone.
  EXPECT_EQ(Post(daemon.port, "text/plain", std::string("\xff\xff\xff\xff\x0f\x00x", 7),
                 {{"Content-Encoding", "snappy"}})
                .status,
            413);
  EXPECT_EQ(daemon.process->Wait(milliseconds(0)), -1) << "the daemon exited";
  EXPECT_TRUE(MetricsNow(daemon.port, {{Answers(413), 3}, {kHttpBytes, 0}}));
  const long peak = PeakRssBytes(daemon.process->pid());
  EXPECT_GT(peak, 0);
  EXPECT_LT(peak, 192L * kMiB) << "peak RSS " << peak / kMiB << " MiB";
  EXPECT_EQ(Post(daemon.port, "application/msgpack", Zstd(MsgpackRecords(TailMap)),
                 {{"Content-Encoding", "zstd"}})
                .status,
            204);
  EXPECT_TRUE(MetricsNow(daemon.port, ServerLinesCounted()));
}

// A msgpack body that is not Fluent Bit's records is refused whole (400,
// nothing counted), counted by reason, quickly (a forged length allocates
// nothing), and the daemon keeps serving.
TEST(IngestTest, UnreadableMsgpackIs400CountedByReasonAndCountsNothing) {
  Daemon daemon = StartDaemon({kEnable});
  const std::string good = MsgpackRecord(TailMap(RequestLine("success", 1)));
  std::string nested = "\x91";  // an array of one, 600 deep, in the record's map
  for (int i = 0; i < 600; ++i) nested += "\x91";
  nested += "\xc0";
  const std::vector<std::pair<std::string, std::string>> bodies = {
      {"msgpack_truncated", good.substr(0, good.size() - 3)},
      {"msgpack_truncated", good + good.substr(0, 5)},
      // A map of 4 G pairs as the record's map: nothing is allocated for them.
      {"msgpack_truncated", Msgpack().Array(2).Uint(1).Raw("\xdf\xff\xff\xff\xff").bytes()},
      {"msgpack_truncated", std::string("\xdb\xff\xff\xff\xff", 5) + "abc"},  // 4 GiB string
      {"msgpack_invalid", good + "\xc1"},
      {"msgpack_not_a_record", good + "\x01"},
      {"msgpack_not_a_record", Joined(ServerLines(), "\n")},  // not msgpack at all
      {"msgpack_not_a_record", Msgpack().Array(3).Uint(1).Map(0).Map(0).bytes()},
      {"msgpack_not_a_record", Msgpack().Map(1).Str("log").Str("x").bytes()},
      {"msgpack_not_a_record", Msgpack().Array(2).Str("2023-11-14").Map(0).bytes()},
      {"msgpack_not_a_record", Msgpack().Array(2).Int(-5).Map(0).bytes()},
      {"msgpack_not_a_record", Msgpack().Array(2).Uint(1).Array(0).bytes()},
      {"msgpack_not_a_record", Msgpack().Array(2).Array(2).Uint(1).Array(0).Map(0).bytes()},
      {"msgpack_not_a_record", Msgpack().Array(2).Array(3).Uint(1).Map(0).Nil().Map(0).bytes()},
      {"msgpack_not_a_record",
       Msgpack().Array(2).Raw("\xd7\x01" + std::string(8, 'x')).Map(0).bytes()},
      {"msgpack_not_a_record",
       MsgpackRecord(Msgpack().Map(1).Raw(Msgpack().Array(1).Uint(1).bytes()).Uint(1))},
      {"msgpack_too_deep", MsgpackRecord(Msgpack().Map(1).Str("x").Raw(nested))},
  };
  std::map<std::string, double> reasons;
  for (const auto& [reason, body] : bodies) {
    SCOPED_TRACE(reason + " #" + std::to_string(reasons[reason]));
    const HttpResponse response = Post(daemon.port, "application/msgpack", body);
    EXPECT_EQ(response.status, 400) << response.body;
    EXPECT_NE(response.body.find("msgpack body"), std::string::npos) << response.body;
    ++reasons[reason];
  }
  Expected expected = {{Answers(400), static_cast<double>(bodies.size())},
                       {Answers(204), 0},
                       {kHttpBytes, 0},
                       {HttpLines("request"), 0},
                       {HttpLines("not_json"), 0},
                       {RequestsSeries("success"), 0}};
  for (const auto& [reason, count] : reasons) expected.push_back({Unreadable(reason), count});
  EXPECT_TRUE(MetricsNow(daemon.port, expected));
  // Nested as deep as a JSON line may be: read.
  std::string deep;
  for (int i = 0; i < 400; ++i) deep += "\x91";
  deep += "\xc0";
  EXPECT_EQ(
      Post(daemon.port, "application/msgpack", MsgpackRecord(Msgpack().Map(1).Str("x").Raw(deep)))
          .status,
      204);
  EXPECT_EQ(Post(daemon.port, "application/msgpack", MsgpackRecords(TailMap)).status, 204);
  expected = ServerLinesCounted();
  for (auto& [series, value] : expected) {
    if (series == HttpLines("event")) value = 2;  // and the deep record
  }
  EXPECT_TRUE(MetricsNow(daemon.port, expected));
}

// A record's values other than strings become the JSON the json formats
// would have sent: numbers, booleans, null, nested maps and arrays, bin as a
// string, control characters escaped, a number key quoted.
TEST(IngestTest, MsgpackValuesBecomeTheJsonOfTheRecord) {
  Daemon daemon = StartDaemon({kEnable});
  Msgpack map;
  map.Map(9)
      .Str("status")
      .Str("success")
      .Str("total_time_ms")
      .Double(250.5)
      .Str("input_tokens")
      .Uint(70000)
      .Str("output_tokens")
      .Int(40)
      .Str("offset")
      .Int(-70000)
      .Str("cached")
      .Bool(false)
      .Str("extra")
      .Map(2)
      .Str("list")
      .Array(3)
      .Nil()
      .Bool(true)
      .Double(-0.25)
      .Uint(7)
      .Str("x")
      .Str("note")
      .Str("tab\tbell\x07 quote\" back\\ caf\xc3\xa9")
      .Str("bin")
      .Bin("raw");
  const HttpResponse response =
      Post(daemon.port, "application/msgpack", MsgpackRecord(map, Stamp::kInteger));
  ASSERT_EQ(response.status, 204) << response.body;
  EXPECT_TRUE(MetricsNow(daemon.port, {{HttpLines("request"), 1},
                                       {HttpLines("event"), 0},
                                       {RequestsSeries("success"), 1},
                                       {"qwen_request_duration_ms_sum", 250.5},
                                       {"qwen_request_duration_ms_count", 1}}));
}

}  // namespace
}  // namespace lle::test
