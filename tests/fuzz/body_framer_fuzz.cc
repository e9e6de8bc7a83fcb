// libFuzzer target: the HTTP body framer (include/llm_log_exporter/framing/
// body_framer.h) and the ingest handler around it (gzip, limits, pipelines).
//
// The first input byte picks the Content-Type (every one FormatForContentType
// reads, msgpack when its top bit is set, and one it refuses), whether the
// body is also sent gzip-compressed (one member, or two members one after
// another), whether the rest of the input is itself sent as a gzip, zstd and
// snappy body (any bytes: corrupt streams), and a small decompressed-size
// limit. Checks:
// - FrameBody's output is whole lines (empty or ending in '\n'); the lines
//   format never refuses a body;
// - HttpIngest answers 204 for what FrameBody reads, 400 for what it
//   refuses, 415 for an unknown type, 413 only when the decompressed body is
//   over the limit, and never anything else;
// - a 204 counts exactly the lines FrameBody cut, once, under source http;
//   the gzip-compressed body gives the same answer and lines as the plain one.

#include <zlib.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "llm_log_exporter/app/exporter.h"
#include "llm_log_exporter/app/http_ingest.h"
#include "llm_log_exporter/app/options.h"
#include "llm_log_exporter/config/config.h"
#include "llm_log_exporter/framing/body_framer.h"

namespace {

using lle::fuzz::Check;
using lle::fuzz::Fail;

constexpr const char* kContentTypes[] = {
    "",  // read as lines
    "text/plain",
    "application/x-ndjson",
    "application/json",
    "application/json; charset=utf-8",
    "application/stream+json",
    "application/jsonl",
    "image/png",  // refused: 415
};

const lle::RuleSet& Preset() {
  static const lle::RuleSet rules = lle::QwenPreset();
  return rules;
}

// `data` as a gzip member (zlib's deflate with a gzip wrapper).
std::string GzipMember(std::string_view data) {
  z_stream zs{};
  Check(
      deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK,
      "deflateInit2");
  std::string out(deflateBound(&zs, static_cast<uLong>(data.size())) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  Check(deflate(&zs, Z_FINISH) == Z_STREAM_END, "deflate");
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

double HttpLines(lle::Exporter& exporter) {
  double total = 0;
  for (const auto& family : exporter.self_store().Collect()) {
    if (family.name != "llm_log_exporter_lines_total") continue;
    for (const auto& metric : family.series) {
      for (const auto& label : metric.labels) {
        if (label.name == "source" && label.value == "http") total += metric.value;
      }
    }
  }
  return total;
}

struct Answer {
  int status;
  double lines;  // counted by this request
};

Answer Send(lle::Exporter& exporter, lle::HttpIngest& ingest, const char* content_type,
            std::string_view body, const char* coding) {
  lle::IngestRequest request;
  request.method = "POST";
  request.content_type = content_type;
  request.content_encoding = coding;
  request.content_length = static_cast<long long>(body.size());
  // The body as the HTTP server hands it over: in reads of at most `size`.
  std::size_t offset = 0;
  const lle::BodyReader read = [&](char* out, std::size_t size) -> long {
    const std::size_t n = std::min(size, body.size() - offset);
    std::memcpy(out, body.data() + offset, n);
    offset += n;
    return static_cast<long>(n);
  };
  const double before = HttpLines(exporter);
  const lle::HttpReply reply = ingest.Handle(request, read);
  return {reply.status, HttpLines(exporter) - before};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::uint8_t setup = data[0];
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  const char* content_type = (setup & 0x80) != 0 ? "application/msgpack" : kContentTypes[setup & 7];
  const bool compressed = (setup & 0x08) != 0;
  const bool two_members = (setup & 0x10) != 0;
  const bool raw_gzip = (setup & 0x20) != 0;
  const bool small_limit = (setup & 0x40) != 0;

  // The framer alone.
  lle::BodyFormat format;
  const bool known_type = lle::FormatForContentType(content_type, &format);
  std::string lines;
  std::string error;
  bool framed = false;
  if (known_type) {
    lle::BodyError reason = lle::BodyError::kNumErrors;
    framed = lle::FrameBody(format, body, lines, {}, &reason, &error) == lle::Framed::kOk;
    Check(lines.empty() || lines.back() == '\n', "FrameBody left a partial line", lines);
    if (format == lle::BodyFormat::kLines) Check(framed, "the lines format refused a body", error);
    if (!framed) {
      Check(!error.empty(), "FrameBody refused a body without saying why");
      Check(reason < lle::BodyError::kNumErrors, "FrameBody refused a body without a reason");
    }
  }
  const auto expected_lines = static_cast<double>(std::count(lines.begin(), lines.end(), '\n'));

  // One exporter for the whole run (a fresh one per input costs more than
  // the input): every check is on what one request changed.
  static lle::Exporter exporter(Preset(), /*http_ingest=*/true);
  static const lle::Options options = [] {
    lle::Options o;
    o.ingest_max_body_bytes = 1 << 20;
    return o;
  }();
  static const lle::Options small_options = [] {
    lle::Options o;
    o.ingest_max_body_bytes = 256;
    return o;
  }();
  static lle::HttpIngest ingest_default(exporter, options, "");
  static lle::HttpIngest ingest_small(exporter, small_options, "");
  lle::HttpIngest& ingest = small_limit ? ingest_small : ingest_default;
  const std::size_t limit =
      small_limit ? small_options.ingest_max_body_bytes : options.ingest_max_body_bytes;

  const int expected = !known_type ? 415 : framed ? 204 : 400;
  const bool over_limit = body.size() > limit;
  if (!over_limit) {  // the HTTP layer refuses a larger plain body before the handler
    const Answer plain = Send(exporter, ingest, content_type, body, "");
    if (plain.status != expected) {
      Fail("unexpected status for a plain body",
           std::to_string(plain.status) + " against " + std::to_string(expected));
    }
    Check(plain.lines == (plain.status == 204 ? expected_lines : 0),
          "a plain body's lines counted other than FrameBody cut them");
  }
  if (compressed && known_type) {
    std::string gz = GzipMember(body.substr(0, two_members ? body.size() / 2 : body.size()));
    if (two_members) gz += GzipMember(body.substr(body.size() / 2));
    const Answer zipped = Send(exporter, ingest, content_type, gz, "gzip");
    // The limit holds for the body as sent (gzip headers can make it larger
    // than the text) and once decompressed.
    const int want = over_limit || gz.size() > limit ? 413 : expected;
    if (zipped.status != want) {
      Fail("unexpected status for a gzip body",
           std::to_string(zipped.status) + " against " + std::to_string(want));
    }
    Check(zipped.lines == (zipped.status == 204 ? expected_lines : 0),
          "a gzip body's lines counted other than FrameBody cut them");
  }
  if (raw_gzip) {
    // Any bytes as a compressed body: an answer, never a crash or a hang.
    for (const char* coding : {"gzip", "zstd", "snappy"}) {
      const Answer any = Send(exporter, ingest, content_type, body, coding);
      Check(any.status == 204 || any.status == 400 || any.status == 413 || any.status == 415,
            "unexpected status for arbitrary compressed bytes", coding);
    }
  }
  return 0;
}
