#include "llm_log_exporter/app/http_ingest.h"

#include <zlib.h>

#include <cctype>
#include <chrono>
#include <cstring>
#include <utility>
#include <vector>

#include "llm_log_exporter/core/ascii.h"
#include "llm_log_exporter/core/line.h"
#include "llm_log_exporter/framing/body_framer.h"

namespace lle {
namespace {

// Largest per-thread scratch buffer kept between requests.
constexpr std::size_t kKeptBufferBytes = 4 * 1024 * 1024;

enum class Inflate { kOk, kTooLarge, kCorrupt };

// gunzips `in` into `out`, stopping as soon as the output passes `limit` so a
// small "gzip bomb" never expands in memory.
Inflate Gunzip(std::string_view in, std::size_t limit, std::string& out) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 32) != Z_OK) return Inflate::kCorrupt;  // gzip or zlib header
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  std::vector<char> buf(64 * 1024);  // on the heap: HTTP worker threads have small stacks
  int rc = Z_OK;
  Inflate result = Inflate::kOk;
  for (;;) {
    if (rc == Z_STREAM_END) {
      // gzip allows several members one after another (RFC 1952): read them all.
      if (zs.avail_in == 0) break;
      inflateReset(&zs);
    }
    zs.next_out = reinterpret_cast<Bytef*>(buf.data());
    zs.avail_out = static_cast<uInt>(buf.size());
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      result = Inflate::kCorrupt;
      break;
    }
    const std::size_t n = buf.size() - zs.avail_out;
    if (out.size() + n > limit) {
      result = Inflate::kTooLarge;
      break;
    }
    out.append(buf.data(), n);
    if (rc == Z_OK && zs.avail_in == 0 && n == 0) {
      result = Inflate::kCorrupt;  // truncated stream
      break;
    }
  }
  inflateEnd(&zs);
  return result;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

// "Bearer TOKEN", the scheme in any case (RFC 9110 §11.1).
bool BearerMatches(std::string_view header, std::string_view token) {
  constexpr std::string_view kScheme = "bearer ";
  if (header.size() < kScheme.size() ||
      !EqualsIgnoreCase(header.substr(0, kScheme.size()), kScheme)) {
    return false;
  }
  return ConstantTimeEquals(header.substr(kScheme.size()), token);
}

}  // namespace

HttpIngest::HttpIngest(Exporter& exporter, const Options& options, std::string bearer_token)
    : exporter_(exporter),
      bearer_token_(std::move(bearer_token)),
      max_body_bytes_(options.ingest_max_body_bytes),
      control_(exporter.self_store().AddShard()) {
  for (std::size_t i = 0; i < kPipelines; ++i) {
    idle_.push_back(std::make_unique<Pipeline>(exporter, kHttpSource, options.max_line_bytes));
  }
}

HttpReply HttpIngest::Reply(int status, std::string body, std::string extra_headers) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    control_->Apply(exporter_.self().IngestRequest(status));
  }
  if (!body.empty()) body += "\n";
  return {status, std::move(body), std::move(extra_headers)};
}

std::unique_ptr<Pipeline> HttpIngest::TakePipeline() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (idle_.empty()) return nullptr;
  auto p = std::move(idle_.back());
  idle_.pop_back();
  return p;
}

void HttpIngest::ReturnPipeline(std::unique_ptr<Pipeline> pipeline) {
  std::lock_guard<std::mutex> lock(mutex_);
  idle_.push_back(std::move(pipeline));
}

HttpReply HttpIngest::Handle(const IngestRequest& request) {
  if (request.method != "POST" && request.method != "PUT") {
    return Reply(405, "use POST or PUT", "Allow: POST, PUT\r\n");
  }
  if (!bearer_token_.empty() && !BearerMatches(request.authorization, bearer_token_)) {
    return Reply(401, "missing or wrong bearer token", "WWW-Authenticate: Bearer\r\n");
  }
  if (request.body_incomplete) {
    // Not all of it came (in time): Fluent Bit retries a 408.
    return Reply(408, "body not received whole within --web.body-timeout-ms; send it again");
  }
  if (request.body_too_large) {
    return Reply(413, "body over --ingest.max-body-bytes");
  }
  BodyFormat format;
  if (!FormatForContentType(request.content_type, &format)) {
    return Reply(415, "Content-Type must be application/json, application/x-ndjson or text/plain");
  }
  // Reused per server thread, like the body buffer (see HttpServer::ServeIngest).
  thread_local std::string decoded;
  thread_local std::string lines;
  decoded.clear();
  lines.clear();
  std::string_view body = request.body;
  const std::string_view encoding = request.content_encoding;
  if (EqualsIgnoreCase(encoding, "gzip") || EqualsIgnoreCase(encoding, "x-gzip")) {
    switch (Gunzip(request.body, max_body_bytes_, decoded)) {
      case Inflate::kOk:
        body = decoded;
        break;
      case Inflate::kTooLarge:
        return Reply(413, "decompressed body over --ingest.max-body-bytes");
      case Inflate::kCorrupt:
        return Reply(400, "body is not valid gzip");
    }
  } else if (!encoding.empty() && !EqualsIgnoreCase(encoding, "identity")) {
    return Reply(415, "Content-Encoding must be gzip or none");
  }
  std::string error;
  if (!FrameBody(format, body, lines, &error)) return Reply(400, error);
  std::unique_ptr<Pipeline> pipeline = TakePipeline();
  if (pipeline == nullptr) {
    // Busy: Fluent Bit retries a 429 later, so nothing is lost.
    return Reply(429, "ingest busy, retry", "Retry-After: 1\r\n");
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    control_->Apply(exporter_.self().Bytes(kHttpSource, request.body.size()));
  }
  const std::size_t size = lines.size();
  lines.append(kLinePadding, '\0');
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  pipeline->Feed(std::string_view(lines.data(), size), exporter_.sequence().fetch_add(1) + 1, now);
  ReturnPipeline(std::move(pipeline));
  for (std::string* buffer : {&decoded, &lines}) {
    if (buffer->capacity() > kKeptBufferBytes) std::string().swap(*buffer);
  }
  return Reply(204);
}

}  // namespace lle
