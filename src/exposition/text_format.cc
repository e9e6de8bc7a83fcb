#include "llm_log_exporter/exposition/text_format.h"

#include <isa-l/igzip_lib.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "append_buffer.h"
#include "llm_log_exporter/core/ascii.h"
#include "llm_log_exporter/exposition/family.h"

namespace lle {

namespace {

// prometheus-cpp 1.0.1's TextSerializer, but for the numbers: it prints them
// with %.16g, one digit short of what a double can need, so some read back as
// another double and DBL_MAX as 1.797693134862316e+308, out of range for every
// parser (Prometheus drops the whole scrape). Here each number is the shortest
// text that reads back as the same double (std::to_chars without a precision),
// laid out as %g lays it out: positional from 1e-4 to below 1e16, so integers
// stay integers (1876, not 1.876e+03), else with an exponent (1e+21, 1e-07).
// Writing it without printf also costs a tenth as much, and a scrape of 10 k
// series writes 100 k numbers.
//
// Writes the text at `p`, which has room for kDoubleText bytes; returns its end.
constexpr std::size_t kDoubleText = 32;
char* WriteDouble(char* p, double value) {
  if (std::isnan(value)) return std::copy_n("NaN", 3, p);
  if (std::isinf(value)) return std::copy_n(value < 0 ? "-Inf" : "+Inf", 4, p);
  if (std::fabs(value) < 1e15 && value == std::trunc(value) &&
      !(value == 0 && std::signbit(value))) {
    // A whole number (most values: counts, tokens): below 2^53 its shortest
    // text is its digits, which the integer conversion writes at a fraction
    // of the cost. -0 keeps its sign below.
    return std::to_chars(p, p + kDoubleText, static_cast<std::int64_t>(value)).ptr;
  }
  // The decimal exponent of the shortest text is in [-4, 16) exactly when
  // the double is: that text must read back as this double, not a neighbour.
  const double magnitude = std::fabs(value);
  const bool positional = magnitude == 0 || (magnitude >= 1e-4 && magnitude < 1e16);
  return std::to_chars(p, p + kDoubleText, value,
                       positional ? std::chars_format::fixed : std::chars_format::scientific)
      .ptr;
}

void AppendDouble(AppendBuffer& out, double value) {
  out.Advance(WriteDouble(out.Need(kDoubleText), value));
}

template <typename Int>
void AppendInt(AppendBuffer& out, Int value) {
  char* p = out.Need(24);
  out.Advance(std::to_chars(p, p + 24, value).ptr);
}

// Whether any of 8 bytes is '\n', '\\' or '"': a byte of x ^ c is zero where
// x holds c (the high bit test of the zero-byte trick; a borrow it starts
// may mark others, the answer is the same).
bool HasEscape(std::uint64_t x) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ull;
  constexpr std::uint64_t kHighs = kOnes * 0x80;
  const auto zero = [](std::uint64_t v) { return (v - kOnes) & ~v & kHighs; };
  return (zero(x ^ (kOnes * '\n')) | zero(x ^ (kOnes * '\\')) | zero(x ^ (kOnes * '"'))) != 0;
}

// A label value (or OpenMetrics HELP) with '\\', '"' and newlines escaped.
// Most values need none: words of 8 bytes without one are copied as they
// are checked; the rest goes byte by byte.
void AppendEscaped(AppendBuffer& out, std::string_view value) {
  char* p = out.Need(2 * value.size());  // at most every character escaped
  const char* c = value.data();
  const char* const end = c + value.size();
  for (; end - c >= 8; c += 8, p += 8) {
    std::uint64_t x;
    std::memcpy(&x, c, 8);
    if (HasEscape(x)) break;
    std::memcpy(p, &x, 8);
  }
  for (; c != end; ++c) {
    if (*c == '\n') {
      *p++ = '\\';
      *p++ = 'n';
      continue;
    }
    if (*c == '\\' || *c == '"') *p++ = '\\';
    *p++ = *c;
  }
  out.Advance(p);
}

// The series name and labels, then a space; `le` as the extra label.
void AppendHead(AppendBuffer& out, std::string_view name, const Series& series,
                std::string_view suffix = {}, const Bucket* le = nullptr) {
  out.Put(name);
  out.Put(suffix);
  if (!series.labels.empty() || le != nullptr) {
    out.Put('{');
    bool first = true;
    for (const Label& label : series.labels) {
      if (!first) out.Put(',');
      first = false;
      out.Put(label.name);
      out.Put("=\"");
      AppendEscaped(out, label.value);
      out.Put('"');
    }
    if (le != nullptr) {
      if (!first) out.Put(',');
      out.Put("le=\"");
      AppendDouble(out, le->upper_bound);
      out.Put('"');
    }
    out.Put('}');
  }
  out.Put(' ');
}

// The text of the last exemplar timestamp written: the exemplars of one line
// (a counter and its histograms' buckets) share the time it was read at.
struct LastTimestamp {
  double value = std::numeric_limits<double>::quiet_NaN();  // never equal: none yet
  char text[kDoubleText];
  std::size_t size = 0;
};

// The end of a sample line: in OpenMetrics, its exemplar if any.
void AppendTail(AppendBuffer& out, const Exemplar* exemplar, LastTimestamp& last) {
  if (exemplar != nullptr) {
    out.Put(" # {");
    out.Put(exemplar->label.name);
    out.Put("=\"");
    AppendEscaped(out, exemplar->label.value);
    out.Put("\"} ");
    AppendDouble(out, exemplar->value);
    out.Put(' ');
    if (!(exemplar->timestamp_seconds == last.value)) {
      last.value = exemplar->timestamp_seconds;
      last.size = static_cast<std::size_t>(WriteDouble(last.text, last.value) - last.text);
    }
    out.Put(std::string_view(last.text, last.size));
  }
  out.Put('\n');
}
void AppendFamily(AppendBuffer& out, const Family& family, bool open_metrics) {
  // OpenMetrics names a counter family without `_total` and its sample with
  // it, adding it if the name lacks it (as client_golang does).
  std::string_view name = family.name;
  std::string_view value_suffix;
  if (open_metrics && family.type == MetricType::kCounter) {
    static constexpr std::string_view kTotal = "_total";
    if (name.size() > kTotal.size() && name.substr(name.size() - kTotal.size()) == kTotal) {
      name.remove_suffix(kTotal.size());
    }
    value_suffix = kTotal;
  }
  if (!family.help.empty()) {
    out.Put("# HELP ");
    out.Put(name);
    out.Put(' ');
    if (open_metrics) {
      AppendEscaped(out, family.help);
    } else {
      out.Put(family.help);  // as prometheus-cpp wrote it (the golden files hold it)
    }
    out.Put('\n');
  }
  out.Put("# TYPE ");
  out.Put(name);
  out.Put(family.type == MetricType::kCounter ? " counter\n"
          : family.type == MetricType::kGauge ? " gauge\n"
                                              : " histogram\n");
  const auto exemplar = [open_metrics](const std::shared_ptr<const Exemplar>& e) {
    return open_metrics ? e.get() : nullptr;
  };
  LastTimestamp last;
  for (const Series& series : family.series) {
    if (family.type != MetricType::kHistogram) {
      AppendHead(out, name, series, value_suffix);
      AppendDouble(out, series.value);
      AppendTail(out, family.type == MetricType::kCounter ? exemplar(series.exemplar) : nullptr,
                 last);
      continue;
    }
    // 0.0.4 as prometheus-cpp wrote it: count, sum, buckets; OpenMetrics as
    // the clients write it: buckets, count, sum.
    const auto count_and_sum = [&] {
      AppendHead(out, name, series, "_count");
      AppendInt(out, series.count);
      out.Put('\n');
      AppendHead(out, name, series, "_sum");
      AppendDouble(out, series.sum);
      out.Put('\n');
    };
    if (!open_metrics) count_and_sum();
    for (const Bucket& bucket : series.buckets) {
      AppendHead(out, name, series, "_bucket", &bucket);
      AppendInt(out, bucket.cumulative_count);
      AppendTail(out, exemplar(bucket.exemplar), last);
    }
    if (series.buckets.empty() ||
        series.buckets.back().upper_bound != std::numeric_limits<double>::infinity()) {
      Bucket inf;
      inf.upper_bound = std::numeric_limits<double>::infinity();
      AppendHead(out, name, series, "_bucket", &inf);
      AppendInt(out, series.count);
      out.Put('\n');
    }
    if (open_metrics) count_and_sum();
  }
}

void Serialize(const std::vector<Family>& families, bool open_metrics, std::string& out) {
  // Sized up front, a little over: growing a string of megabytes by doubling
  // copies it at every step.
  std::size_t estimate = 8;
  for (const Family& family : families) {
    estimate += 2 * family.name.size() + family.help.size() + 32;
    for (const Series& series : family.series) {
      // A line: name, suffix, labels, value (a bucket's `le` too).
      std::size_t line = family.name.size() + 40;
      for (const Label& label : series.labels) {
        line += label.name.size() + label.value.size() + 4;
      }
      estimate += line + (series.buckets.empty() ? 0 : (line + 30) * (series.buckets.size() + 2));
      if (open_metrics && series.exemplar) estimate += 64 + series.exemplar->label.value.size();
      if (open_metrics && family.type == MetricType::kHistogram) {
        for (const Bucket& bucket : series.buckets) {
          if (bucket.exemplar) estimate += 64 + bucket.exemplar->label.value.size();
        }
      }
    }
  }
  AppendBuffer writer(out, estimate);
  for (const Family& family : families) AppendFamily(writer, family, open_metrics);
  if (open_metrics) writer.Put("# EOF\n");
}

// Leading and trailing whitespace off.
std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// One item of an HTTP header list (Accept, Accept-Encoding): its media range
// or coding, its q (1 if not given) and the parameters we read.
struct HeaderItem {
  std::string_view token;
  double q = 1;
  std::string_view version, proto, encoding;
};

// Calls `visit` with each comma-separated item (`token;key=value;...`) of
// `header` in turn, until it returns false.
template <typename Visit>
void ForEachHeaderItem(std::string_view header, Visit visit) {
  while (!header.empty()) {
    const std::size_t comma = header.find(',');
    std::string_view rest = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    std::size_t semi = rest.find(';');
    HeaderItem item;
    item.token = Trim(rest.substr(0, semi));
    while (semi != std::string_view::npos) {
      rest.remove_prefix(semi + 1);
      semi = rest.find(';');
      const std::string_view param = Trim(rest.substr(0, semi));
      const std::size_t eq = param.find('=');
      if (eq == std::string_view::npos) continue;
      const std::string_view key = Trim(param.substr(0, eq));
      const std::string_view value = Trim(param.substr(eq + 1));
      if (EqualsIgnoreCase(key, "q")) {
        item.q = std::strtod(std::string(value).c_str(), nullptr);
      } else if (EqualsIgnoreCase(key, "version")) {
        item.version = value;
      } else if (EqualsIgnoreCase(key, "proto")) {
        item.proto = value;
      } else if (EqualsIgnoreCase(key, "encoding")) {
        item.encoding = value;
      }
    }
    if (!visit(item)) return;
  }
}

}  // namespace

std::string SerializeText(const std::vector<Family>& families) {
  std::string out;
  Serialize(families, false, out);
  return out;
}

std::string SerializeOpenMetrics(const std::vector<Family>& families) {
  std::string out;
  Serialize(families, true, out);
  return out;
}

void SerializeText(const std::vector<Family>& families, std::string* out) {
  Serialize(families, false, *out);
}

void SerializeOpenMetrics(const std::vector<Family>& families, std::string* out) {
  Serialize(families, true, *out);
}

ExpositionFormat NegotiateFormat(std::string_view accept) {
  // The first media range we can write among those of the highest q wins, as
  // client_golang's expfmt.Negotiate picks (text when none fits).
  ExpositionFormat best = ExpositionFormat::kText;
  double best_q = 0;
  ForEachHeaderItem(accept, [&](const HeaderItem& item) {
    const std::string_view type = item.token;
    ExpositionFormat format;
    if (EqualsIgnoreCase(type, "application/vnd.google.protobuf") &&
        item.proto == "io.prometheus.client.MetricFamily" && item.encoding == "delimited") {
      format = ExpositionFormat::kProtobuf;
    } else if (EqualsIgnoreCase(type, "application/openmetrics-text") &&
               (item.version.empty() || item.version == "1.0.0" || item.version == "0.0.1")) {
      format = ExpositionFormat::kOpenMetrics;
    } else if ((EqualsIgnoreCase(type, "text/plain") &&
                (item.version.empty() || item.version == "0.0.4")) ||
               type == "*/*" || EqualsIgnoreCase(type, "text/*")) {
      format = ExpositionFormat::kText;
    } else {
      return true;
    }
    if (item.q > best_q) {
      best = format;
      best_q = item.q;
    }
    return true;
  });
  return best;
}

const char* ContentType(ExpositionFormat format) {
  switch (format) {
    case ExpositionFormat::kOpenMetrics:
      return kOpenMetricsContentType;
    case ExpositionFormat::kProtobuf:
      return kProtobufContentType;
    case ExpositionFormat::kText:
      break;
  }
  return kTextContentType;
}

bool AcceptsGzip(std::string_view header) {
  // The first gzip item decides: allowed unless its q is 0.
  bool gzip = false;
  ForEachHeaderItem(header, [&](const HeaderItem& item) {
    if (!EqualsIgnoreCase(item.token, "gzip")) return true;
    gzip = item.q > 0;
    return false;
  });
  return gzip;
}

std::string Gzip(std::string_view data) {
  std::string out;
  Gzip(data, &out);
  return out;
}

void Gzip(std::string_view data, std::string* out) {
  // igzip's fastest level, one call over the whole exposition (Prometheus
  // reads gzip at any level; client_golang writes Go's default). Its state
  // (80 KB: too much for a web server thread's stack) and working memory
  // (280 KB) stay with each thread that has served gzip.
  if (data.size() > UINT32_MAX) throw std::runtime_error("gzip: over 4 GiB in one piece");
  struct Deflater {
    isal_zstream stream;
    std::uint8_t level_buffer[ISAL_DEF_LVL1_DEFAULT];
  };
  thread_local const std::unique_ptr<Deflater> deflater = std::make_unique<Deflater>();
  isal_zstream& zs = deflater->stream;
  isal_deflate_init(&zs);
  zs.level = 1;
  zs.level_buf = deflater->level_buffer;
  zs.level_buf_size = sizeof deflater->level_buffer;
  zs.gzip_flag = IGZIP_GZIP;
  zs.end_of_stream = 1;
  zs.flush = NO_FLUSH;
  zs.next_in = reinterpret_cast<std::uint8_t*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<std::uint32_t>(data.size());
  const std::size_t start = out->size();
  // Room for a fifth of the input first (an exposition shrinks to a tenth,
  // a third with random trace ids in it), grown while more is written.
  std::size_t room = data.size() / 5 + 4096;
  std::size_t written = 0;
  for (;;) {
    out->resize(start + room);
    zs.next_out = reinterpret_cast<std::uint8_t*>(out->data() + start + written);
    zs.avail_out = static_cast<std::uint32_t>(room - written);
    const int rc = isal_deflate(&zs);
    written = room - zs.avail_out;
    if (rc != COMP_OK) {
      out->resize(start);
      throw std::runtime_error("isal_deflate failed: " + std::to_string(rc));
    }
    if (zs.internal_state.state == ZSTATE_END) break;
    room *= 2;  // the output was full
  }
  out->resize(start + written);
}

}  // namespace lle
