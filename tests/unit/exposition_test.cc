#include <gtest/gtest.h>

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

}  // namespace
}  // namespace lle
