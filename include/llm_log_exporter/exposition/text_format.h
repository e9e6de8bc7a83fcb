#pragma once

#include <prometheus/metric_family.h>

#include <string>
#include <string_view>
#include <vector>

namespace lle {

inline constexpr const char* kTextContentType = "text/plain; version=0.0.4; charset=utf-8";

/// Prometheus text format 0.0.4 (prometheus-cpp's TextSerializer).
std::string SerializeText(const std::vector<prometheus::MetricFamily>& families);

/// True if an Accept-Encoding header value allows gzip (and does not refuse it with q=0).
bool AcceptsGzip(std::string_view accept_encoding);

/// `data` compressed as a gzip member. Throws std::runtime_error if zlib fails.
std::string Gzip(std::string_view data);

}  // namespace lle
