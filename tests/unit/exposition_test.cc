#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>

#include "llm_log_exporter/exposition/listen_address.h"
#include "llm_log_exporter/exposition/text_format.h"
#include "support/http_client.h"

namespace lle {
namespace {

TEST(ListenAddressTest, Accepts) {
  struct Case {
    std::string text, civetweb;
    int port;
  };
  const Case cases[] = {
      {":9879", "9879", 9879},
      {"0.0.0.0:1", "0.0.0.0:1", 1},
      {"127.0.0.1:0", "127.0.0.1:0", 0},
      {"localhost:80", "127.0.0.1:80", 80},
      {"[::1]:9879", "[::1]:9879", 9879},
      {":65535", "65535", 65535},
  };
  for (const Case& c : cases) {
    std::string error;
    const auto a = ParseListenAddress(c.text, &error);
    ASSERT_TRUE(a) << c.text << ": " << error;
    EXPECT_EQ(a->ToCivetweb(), c.civetweb);
    EXPECT_EQ(a->port, c.port);
  }
}

TEST(ListenAddressTest, RejectsWithReason) {
  struct Case {
    std::string text, reason;
  };
  const Case cases[] = {
      {"9879", "expected [HOST]:PORT"},           {"", "expected [HOST]:PORT"},
      {":", "not a number from 0 to 65535"},      {":65536", "not a number from 0 to 65535"},
      {":-1", "not a number from 0 to 65535"},    {":80x", "not a number from 0 to 65535"},
      {"example.com:80", "is not an IP address"}, {"[::1:80", "is not an IP address"},
      {"256.1.1.1:80", "is not an IP address"},
  };
  for (const Case& c : cases) {
    std::string error;
    EXPECT_FALSE(ParseListenAddress(c.text, &error)) << c.text;
    EXPECT_NE(error.find(c.reason), std::string::npos) << c.text << ": " << error;
  }
}

TEST(TextFormatTest, AcceptsGzip) {
  EXPECT_TRUE(AcceptsGzip("gzip"));
  EXPECT_TRUE(AcceptsGzip("deflate, GZIP"));
  EXPECT_TRUE(AcceptsGzip("gzip;q=0.5, identity"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0"));
  EXPECT_FALSE(AcceptsGzip("identity"));
  EXPECT_FALSE(AcceptsGzip("x-gzip2"));
  EXPECT_FALSE(AcceptsGzip(""));
}

TEST(TextFormatTest, GzipRoundTrips) {
  std::string text;
  for (int i = 0; i < 10000; ++i)
    text += "qwen_requests_total{status=\"success\"} " + std::to_string(i) + "\n";
  const std::string packed = Gzip(text);
  EXPECT_LT(packed.size(), text.size() / 5);
  EXPECT_EQ(test::Gunzip(packed), text);
  EXPECT_EQ(test::Gunzip(Gzip("")), "");
}

TEST(TextFormatTest, SerializesHistogramsWithInclusiveBoundsAndInf) {
  prometheus::MetricFamily f;
  f.name = "h";
  f.help = "help";
  f.type = prometheus::MetricType::Histogram;
  prometheus::ClientMetric m;
  m.histogram.sample_count = 3;
  m.histogram.sample_sum = 1.5;
  m.histogram.bucket = {{1, 0.3}, {3, std::numeric_limits<double>::infinity()}};
  f.metric = {m};
  const std::string text = SerializeText({f});
  EXPECT_NE(text.find("h_bucket{le=\"0.3\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_bucket{le=\"+Inf\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_count 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE h histogram\n"), std::string::npos) << text;
}

TEST(TextFormatTest, SameBytesAsPrometheusCppTextSerializer) {
  // Every kind of number the store can show: integers, decimals, huge, tiny,
  // subnormal, negative zero, NaN, infinities; plus random bit patterns.
  std::vector<double> values = {0,
                                -0.0,
                                0.1,
                                0.3,
                                1.0 / 3,
                                123,
                                1e15,
                                1e16,
                                1e21,
                                1e-7,
                                14153.86400000109,
                                123456789012345678.0,
                                std::numeric_limits<double>::denorm_min(),
                                std::numeric_limits<double>::max(),
                                std::numeric_limits<double>::lowest(),
                                std::numeric_limits<double>::quiet_NaN(),
                                std::numeric_limits<double>::infinity(),
                                -std::numeric_limits<double>::infinity()};
  std::mt19937_64 random(42);
  for (int i = 0; i < 2000; ++i) {
    const std::uint64_t bits = random();
    double d;
    std::memcpy(&d, &bits, sizeof d);
    values.push_back(d);
    values.push_back(static_cast<double>(bits % 100000000) / 1000);  // millisecond-like sums
  }
  std::vector<prometheus::MetricFamily> families;
  const prometheus::MetricType kTypes[] = {
      prometheus::MetricType::Counter, prometheus::MetricType::Gauge,
      prometheus::MetricType::Untyped, prometheus::MetricType::Summary,
      prometheus::MetricType::Histogram};
  for (const prometheus::MetricType type : kTypes) {
    prometheus::MetricFamily f;
    f.name = "m" + std::to_string(families.size());
    f.help = families.empty() ? "" : "help with \\ and \"quotes\"";
    f.type = type;
    for (std::size_t i = 0; i < values.size(); i += 7) {
      prometheus::ClientMetric m;
      if (i % 3 == 0) m.label = {{"a", "x\"y\\z\nw"}, {"b", ""}};
      if (i % 5 == 0) m.timestamp_ms = static_cast<std::int64_t>(i) * -1000003;
      m.counter.value = m.gauge.value = m.untyped.value = values[i];
      m.summary.sample_count = m.histogram.sample_count = i;
      m.summary.sample_sum = m.histogram.sample_sum = values[(i + 1) % values.size()];
      m.summary.quantile = {{0.5, values[(i + 2) % values.size()]}, {0.99, 1}};
      m.histogram.bucket = {{1, values[(i + 3) % values.size()]}, {2, 0.3}};
      if (i % 2 == 0) m.histogram.bucket.push_back({i, std::numeric_limits<double>::infinity()});
      f.metric.push_back(m);
    }
    families.push_back(f);
  }
  const std::string ours = SerializeText(families);
  const std::string theirs = prometheus::TextSerializer().Serialize(families);
  ASSERT_GT(ours.size(), 100000u);
  if (ours != theirs) {  // the first differing line, not 200 KB of text
    std::size_t at = 0;
    while (at < ours.size() && at < theirs.size() && ours[at] == theirs[at]) ++at;
    const std::size_t line = ours.rfind('\n', at) + 1;
    FAIL() << "ours:   " << ours.substr(line, ours.find('\n', at) - line)
           << "\ntheirs: " << theirs.substr(line, theirs.find('\n', at) - line);
  }
}

}  // namespace
}  // namespace lle
