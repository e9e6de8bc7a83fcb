#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "llm_log_exporter/exposition/family.h"

namespace lle {

inline constexpr const char* kTextContentType = "text/plain; version=0.0.4; charset=utf-8";
inline constexpr const char* kOpenMetricsContentType =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";
inline constexpr const char* kProtobufContentType =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; "
    "encoding=delimited";

/// Prometheus text format 0.0.4, byte for byte as prometheus-cpp's
/// TextSerializer writes it but for numbers (shortest round trip). No exemplars.
std::string SerializeText(const std::vector<Family>& families);

/// OpenMetrics 1.0 text: counters' families named without `_total`, histogram
/// buckets and counters with their exemplars, `# EOF` at the end. No
/// `_created` series (optional in the spec; client_golang leaves them out by
/// default, since Prometheus would store them as series of their own).
std::string SerializeOpenMetrics(const std::vector<Family>& families);

/// The Prometheus protobuf exposition (io.prometheus.client.MetricFamily
/// messages, each after its length as a varint): every family with series,
/// histograms with their native buckets when they have some, exemplars on
/// counters and classic buckets. Families without series are left out, as
/// client_golang leaves them out. Defined in protobuf_format.cc.
std::string SerializeProtobuf(const std::vector<Family>& families);

/// The same, appended to `*out` (a scrape writes its response head before
/// the body, in the same buffer).
void SerializeText(const std::vector<Family>& families, std::string* out);
void SerializeOpenMetrics(const std::vector<Family>& families, std::string* out);
void SerializeProtobuf(const std::vector<Family>& families, std::string* out);

enum class ExpositionFormat { kText, kOpenMetrics, kProtobuf };

/// The format to answer a request with `Accept: accept` (empty: no header):
/// the highest-q media range we write, the delimited protobuf (Prometheus
/// asks for it first with native histograms enabled), OpenMetrics 1.0.0 (or
/// 0.0.1) or text 0.0.4; text when none fits. Pure function.
ExpositionFormat NegotiateFormat(std::string_view accept);
const char* ContentType(ExpositionFormat format);

/// True if an Accept-Encoding header value allows gzip (and does not refuse it with q=0).
bool AcceptsGzip(std::string_view accept_encoding);

/// `data` compressed as a gzip member (igzip's fastest level). Throws
/// std::runtime_error if the compressor fails.
std::string Gzip(std::string_view data);
/// The same, appended to `*out`.
void Gzip(std::string_view data, std::string* out);

}  // namespace lle
