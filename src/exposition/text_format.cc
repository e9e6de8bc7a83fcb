#include "llm_log_exporter/exposition/text_format.h"

#include <zlib.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <utility>

#include "llm_log_exporter/core/ascii.h"

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
void AppendDouble(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value < 0 ? "-Inf" : "+Inf";
  } else {
    // The decimal exponent of the shortest text is in [-4, 16) exactly when
    // the double is: that text must read back as this double, not a neighbour.
    const double magnitude = std::fabs(value);
    const bool positional = magnitude == 0 || (magnitude >= 1e-4 && magnitude < 1e16);
    char buffer[32];
    const std::to_chars_result r =
        std::to_chars(buffer, buffer + sizeof buffer, value,
                      positional ? std::chars_format::fixed : std::chars_format::scientific);
    out.append(buffer, r.ptr);
  }
}

template <typename Int>
void AppendInt(std::string& out, Int value) {
  char buffer[24];
  const std::to_chars_result r = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, r.ptr);
}

void AppendEscaped(std::string& out, const std::string& value) {
  for (const char c : value) {
    if (c == '\n') {
      out += "\\n";
    } else {
      if (c == '\\' || c == '"') out += '\\';
      out += c;
    }
  }
}

// The series name and labels, then a space; `le` or `quantile` as the extra label.
void AppendHead(std::string& out, const prometheus::MetricFamily& family,
                const prometheus::ClientMetric& metric, std::string_view suffix = {},
                std::string_view extra_name = {}, const double* extra_value = nullptr) {
  out += family.name;
  out += suffix;
  if (!metric.label.empty() || !extra_name.empty()) {
    out += '{';
    const char* separator = "";
    for (const prometheus::ClientMetric::Label& label : metric.label) {
      out += separator;
      out += label.name;
      out += "=\"";
      AppendEscaped(out, label.value);
      out += '"';
      separator = ",";
    }
    if (!extra_name.empty()) {
      out += separator;
      out += extra_name;
      out += "=\"";
      if (extra_value != nullptr) {
        AppendDouble(out, *extra_value);
      } else {
        out += "+Inf";
      }
      out += '"';
    }
    out += '}';
  }
  out += ' ';
}

void AppendTail(std::string& out, const prometheus::ClientMetric& metric) {
  if (metric.timestamp_ms != 0) {
    out += ' ';
    AppendInt(out, metric.timestamp_ms);
  }
  out += '\n';
}

void AppendFamily(std::string& out, const prometheus::MetricFamily& family) {
  using prometheus::MetricType;
  if (!family.help.empty()) {
    out += "# HELP ";
    out += family.name;
    out += ' ';
    out += family.help;
    out += '\n';
  }
  static constexpr std::pair<MetricType, const char*> kTypeNames[] = {
      {MetricType::Counter, "counter"},
      {MetricType::Gauge, "gauge"},
      {MetricType::Summary, "summary"},
      {MetricType::Untyped, "untyped"},
      {MetricType::Histogram, "histogram"}};
  for (const auto& [type, name] : kTypeNames) {
    if (type != family.type) continue;
    out += "# TYPE ";
    out += family.name;
    out += ' ';
    out += name;
    out += '\n';
  }
  for (const prometheus::ClientMetric& metric : family.metric) {
    switch (family.type) {
      case MetricType::Counter:
      case MetricType::Gauge:
      case MetricType::Untyped:
        AppendHead(out, family, metric);
        AppendDouble(out, family.type == MetricType::Counter ? metric.counter.value
                          : family.type == MetricType::Gauge ? metric.gauge.value
                                                             : metric.untyped.value);
        AppendTail(out, metric);
        break;
      case MetricType::Summary:
        AppendHead(out, family, metric, "_count");
        AppendInt(out, metric.summary.sample_count);
        AppendTail(out, metric);
        AppendHead(out, family, metric, "_sum");
        AppendDouble(out, metric.summary.sample_sum);
        AppendTail(out, metric);
        for (const auto& q : metric.summary.quantile) {
          AppendHead(out, family, metric, {}, "quantile", &q.quantile);
          AppendDouble(out, q.value);
          AppendTail(out, metric);
        }
        break;
      case MetricType::Histogram: {
        const auto& h = metric.histogram;
        AppendHead(out, family, metric, "_count");
        AppendInt(out, h.sample_count);
        AppendTail(out, metric);
        AppendHead(out, family, metric, "_sum");
        AppendDouble(out, h.sample_sum);
        AppendTail(out, metric);
        double last = -std::numeric_limits<double>::infinity();
        for (const auto& bucket : h.bucket) {
          AppendHead(out, family, metric, "_bucket", "le", &bucket.upper_bound);
          last = bucket.upper_bound;
          AppendInt(out, bucket.cumulative_count);
          AppendTail(out, metric);
        }
        if (last != std::numeric_limits<double>::infinity()) {
          AppendHead(out, family, metric, "_bucket", "le");
          AppendInt(out, h.sample_count);
          AppendTail(out, metric);
        }
        break;
      }
    }
  }
}

}  // namespace

std::string SerializeText(const std::vector<prometheus::MetricFamily>& families) {
  // Sized up front: growing a string of megabytes by doubling copies it and
  // faults in fresh pages at every step.
  std::size_t estimate = 0;
  for (const prometheus::MetricFamily& family : families) {
    estimate += 2 * family.name.size() + family.help.size() + 32;
    for (const prometheus::ClientMetric& metric : family.metric) {
      std::size_t head = family.name.size() + 48;
      for (const auto& label : metric.label) head += label.name.size() + label.value.size() + 4;
      estimate += head * (family.type == prometheus::MetricType::Histogram
                              ? metric.histogram.bucket.size() + 3
                              : metric.summary.quantile.size() + 2);
    }
  }
  std::string out;
  out.reserve(estimate);
  for (const prometheus::MetricFamily& family : families) AppendFamily(out, family);
  return out;
}

bool AcceptsGzip(std::string_view header) {
  // Comma-separated codings, each optionally with ";q=VALUE".
  while (!header.empty()) {
    const std::size_t comma = header.find(',');
    std::string_view item = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    const std::size_t semi = item.find(';');
    std::string_view coding = item.substr(0, semi);
    while (!coding.empty() && std::isspace(static_cast<unsigned char>(coding.front()))) {
      coding.remove_prefix(1);
    }
    while (!coding.empty() && std::isspace(static_cast<unsigned char>(coding.back()))) {
      coding.remove_suffix(1);
    }
    if (!EqualsIgnoreCase(coding, "gzip")) continue;
    if (semi == std::string_view::npos) return true;
    const std::size_t q = item.find("q=", semi);
    if (q == std::string_view::npos) return true;
    const std::string value(item.substr(q + 2));
    return std::strtod(value.c_str(), nullptr) > 0;
  }
  return false;
}

std::string Gzip(std::string_view data) {
  z_stream zs{};
  // windowBits 15 + 16: a gzip header and trailer instead of zlib's.
  if (deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2 failed");
  }
  std::string out(deflateBound(&zs, data.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate failed");
  out.resize(zs.total_out);
  return out;
}

}  // namespace lle
