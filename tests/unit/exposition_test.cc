#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

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
  // What does not shrink: the output grows past its first guess, after what
  // the string held.
  std::mt19937 random(7);
  std::string noise(300000, '\0');
  for (char& c : noise) c = static_cast<char>(random());
  std::string out = "kept";
  Gzip(noise, &out);
  EXPECT_GT(out.size(), noise.size());
  EXPECT_EQ(out.substr(0, 4), "kept");
  EXPECT_EQ(test::Gunzip(out.substr(4)), noise);
}

TEST(TextFormatTest, SerializesHistogramsWithInclusiveBoundsAndInf) {
  Family f;
  f.name = "h";
  f.help = "help";
  f.type = MetricType::kHistogram;
  Series m;
  m.count = 3;
  m.sum = 1.5;
  m.buckets = {{1, 0.3, nullptr}, {3, std::numeric_limits<double>::infinity(), nullptr}};
  f.series = {m};
  const std::string text = SerializeText({f});
  EXPECT_NE(text.find("h_bucket{le=\"0.3\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_bucket{le=\"+Inf\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_count 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE h histogram\n"), std::string::npos) << text;
}

// OpenMetrics 1.0 (OpenMetrics.md, "Text format"): a counter's family is
// named without `_total` in HELP and TYPE, its sample with it; histogram
// samples are the buckets ascending to +Inf, then _count and _sum; an
// exemplar follows a counter's or a bucket's value as `# {labels} value
// timestamp`; help escapes backslash, quote and newline; `# EOF` ends it.
TEST(OpenMetricsTest, FollowsTheSpecsLayout) {
  auto trace = std::make_shared<const Exemplar>(
      Exemplar{{"trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"}, 2.5, 1765099531.125});
  Family counter;
  counter.name = "requests_total";
  counter.help = "Requests \"ok\"\nand \\ more";
  counter.series.resize(2);
  counter.series[0].labels = {{"status", "error"}};
  counter.series[0].value = 1;
  counter.series[1].labels = {{"status", "success"}};
  counter.series[1].value = 7;
  counter.series[1].exemplar = trace;
  Family unsuffixed;  // a counter named without _total gets it on its sample
  unsuffixed.name = "lines";
  unsuffixed.series.resize(1);
  unsuffixed.series[0].value = 3;
  Family gauge;
  gauge.name = "g";
  gauge.type = MetricType::kGauge;
  gauge.series.resize(1);
  gauge.series[0].value = 0.5;
  gauge.series[0].exemplar = trace;  // gauges have none in OpenMetrics: not shown
  Family histogram;
  histogram.name = "h_seconds";
  histogram.help = "latency";
  histogram.type = MetricType::kHistogram;
  histogram.series.resize(1);
  histogram.series[0].count = 3;
  histogram.series[0].sum = 4.5;
  histogram.series[0].buckets = {
      {1, 1, nullptr}, {3, 5, trace}, {3, std::numeric_limits<double>::infinity(), nullptr}};
  const std::vector<Family> families = {counter, unsuffixed, gauge, histogram};
  EXPECT_EQ(SerializeOpenMetrics(families),
            "# HELP requests Requests \\\"ok\\\"\\nand \\\\ more\n"
            "# TYPE requests counter\n"
            "requests_total{status=\"error\"} 1\n"
            "requests_total{status=\"success\"} 7 # "
            "{trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\"} 2.5 1765099531.125\n"
            "# TYPE lines counter\n"
            "lines_total 3\n"
            "# TYPE g gauge\n"
            "g 0.5\n"
            "# HELP h_seconds latency\n"
            "# TYPE h_seconds histogram\n"
            "h_seconds_bucket{le=\"1\"} 1\n"
            "h_seconds_bucket{le=\"5\"} 3 # "
            "{trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\"} 2.5 1765099531.125\n"
            "h_seconds_bucket{le=\"+Inf\"} 3\n"
            "h_seconds_count 3\n"
            "h_seconds_sum 4.5\n"
            "# EOF\n");
  // The 0.0.4 text of the same families has no exemplar, names, help and
  // order as before.
  EXPECT_EQ(SerializeText(families),
            "# HELP requests_total Requests \"ok\"\nand \\ more\n"
            "# TYPE requests_total counter\n"
            "requests_total{status=\"error\"} 1\n"
            "requests_total{status=\"success\"} 7\n"
            "# TYPE lines counter\n"
            "lines 3\n"
            "# TYPE g gauge\n"
            "g 0.5\n"
            "# HELP h_seconds latency\n"
            "# TYPE h_seconds histogram\n"
            "h_seconds_count 3\n"
            "h_seconds_sum 4.5\n"
            "h_seconds_bucket{le=\"1\"} 1\n"
            "h_seconds_bucket{le=\"5\"} 3\n"
            "h_seconds_bucket{le=\"+Inf\"} 3\n");
  EXPECT_EQ(SerializeOpenMetrics({}), "# EOF\n");
}

TEST(OpenMetricsTest, ExemplarLabelValuesAreEscaped) {
  Family counter;
  counter.name = "c_total";
  counter.series.resize(1);
  counter.series[0].exemplar =
      std::make_shared<const Exemplar>(Exemplar{{"request_id", "a\"b\\c\nd"}, 1, 2});
  EXPECT_EQ(SerializeOpenMetrics({counter}),
            "# TYPE c counter\nc_total 0 # {request_id=\"a\\\"b\\\\c\\nd\"} 1 2\n# EOF\n");
}

// Values are checked 8 bytes at a time, then byte by byte from the word
// with the first escape: every length around a word, every place.
TEST(TextFormatTest, EscapesWhereverTheCharacterIs) {
  for (const char special : {'\n', '\\', '"'}) {
    for (std::size_t size = 1; size <= 26; ++size) {
      for (std::size_t at = 0; at < size; ++at) {
        std::string value(size, 'v');
        value[at] = special;
        value[size - 1 - at] = special;  // a second one, after or before
        std::string escaped;
        for (const char c : value) {
          escaped += c == '\n' ? "\\n" : c == '\\' ? "\\\\" : c == '"' ? "\\\"" : std::string(1, c);
        }
        Family gauge{"g", "", MetricType::kGauge, {}};
        gauge.series.resize(1);
        gauge.series[0].labels = {{"l", value}};
        ASSERT_EQ(SerializeText({gauge}), "# TYPE g gauge\ng{l=\"" + escaped + "\"} 0\n")
            << size << " " << at;
        gauge.help = value;  // OpenMetrics escapes HELP too
        ASSERT_EQ(SerializeOpenMetrics({gauge}),
                  "# HELP g " + escaped + "\n# TYPE g gauge\ng{l=\"" + escaped + "\"} 0\n# EOF\n")
            << size << " " << at;
      }
    }
  }
}

// As client_golang's expfmt.Negotiate: the highest q among the types we
// write wins; OpenMetrics 1.0.0 and 0.0.1, text 0.0.4; text otherwise.
TEST(OpenMetricsTest, NegotiatesTheFormatFromAccept) {
  const std::pair<const char*, ExpositionFormat> cases[] = {
      // What Prometheus 2.42 sends.
      {"application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
       "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
       ExpositionFormat::kOpenMetrics},
      {"application/openmetrics-text; version=0.0.1", ExpositionFormat::kOpenMetrics},
      {"Application/OpenMetrics-Text", ExpositionFormat::kOpenMetrics},
      {"", ExpositionFormat::kText},
      {"*/*", ExpositionFormat::kText},
      {"text/plain", ExpositionFormat::kText},
      {"text/plain;version=0.0.4;q=0.9, application/openmetrics-text;q=0.5",
       ExpositionFormat::kText},
      {"application/openmetrics-text;q=0", ExpositionFormat::kText},
      {"application/openmetrics-text;version=2.0.0", ExpositionFormat::kText},
      {"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
       "encoding=delimited;q=0.5,application/openmetrics-text;q=0.9",
       ExpositionFormat::kOpenMetrics},
      {"application/json", ExpositionFormat::kText},
      {"garbage;;;=,,;q=", ExpositionFormat::kText},
  };
  for (const auto& [accept, format] : cases) {
    EXPECT_EQ(NegotiateFormat(accept), format) << accept;
  }
  EXPECT_STREQ(ContentType(ExpositionFormat::kOpenMetrics),
               "application/openmetrics-text; version=1.0.0; charset=utf-8");
  EXPECT_STREQ(ContentType(ExpositionFormat::kText), "text/plain; version=0.0.4; charset=utf-8");
}

// The text of `value` as a gauge sample and as a histogram's `le` bound, each
// as SerializeText prints it.
std::pair<std::string, std::string> PrintedAsSampleAndBound(double value) {
  Family gauge;
  gauge.name = "g";
  gauge.type = MetricType::kGauge;
  gauge.series.resize(1);
  gauge.series[0].value = value;
  Family histogram;
  histogram.name = "h";
  histogram.type = MetricType::kHistogram;
  histogram.series.resize(1);
  histogram.series[0].buckets = {{0, value, nullptr}};
  std::string sample = SerializeText({gauge});  // "# TYPE g gauge\ng VALUE\n"
  sample = sample.substr(sample.rfind(' ') + 1);
  sample.pop_back();
  const std::string text = SerializeText({histogram});
  const std::size_t le = text.find("le=\"") + 4;
  return {sample, text.substr(le, text.find('"', le) - le)};
}

std::uint64_t Bits(double d) {
  std::uint64_t bits;
  std::memcpy(&bits, &d, sizeof bits);
  return bits;
}

TEST(TextFormatTest, NumbersAreShortestAndIntegersStayIntegers) {
  const std::pair<double, const char*> cases[] = {
      {0, "0"},
      {-0.0, "-0"},
      {1876, "1876"},
      {-42, "-42"},
      {1e6, "1000000"},
      {1e15, "1000000000000000"},
      {9007199254740994.0, "9007199254740994"},  // 2^53 + 2
      {1e16, "1e+16"},
      {1e21, "1e+21"},
      {0.1, "0.1"},
      {0.0001, "0.0001"},
      {1e-7, "1e-07"},
      {1.0 / 3, "0.3333333333333333"},
      {0.1 + 0.2, "0.30000000000000004"},
      {std::numeric_limits<double>::max(), "1.7976931348623157e+308"},
      {std::numeric_limits<double>::lowest(), "-1.7976931348623157e+308"},
      {std::numeric_limits<double>::min(), "2.2250738585072014e-308"},
      {std::numeric_limits<double>::denorm_min(), "5e-324"},
      {std::numeric_limits<double>::infinity(), "+Inf"},
      {-std::numeric_limits<double>::infinity(), "-Inf"},
      {std::numeric_limits<double>::quiet_NaN(), "NaN"},
  };
  for (const auto& [value, text] : cases) {
    const auto [sample, bound] = PrintedAsSampleAndBound(value);
    EXPECT_EQ(sample, text);
    EXPECT_EQ(bound, text);
  }
}

// Whole numbers below 1e15 take a shorter path (the integer conversion):
// the same text as std::to_chars writes for them.
TEST(TextFormatTest, WholeNumbersAreWrittenAsToCharsWritesThem) {
  std::vector<double> values = {0, 1, -1, 1e15 - 1, -(1e15 - 1), 1e15, 4503599627370496.0};
  std::mt19937_64 random(20);
  for (int i = 0; i < 5000; ++i) {
    const double whole = static_cast<double>(random() % 1000000000000000);
    values.insert(values.end(), {whole, -whole, std::floor(whole / 1e6)});
  }
  for (const double value : values) {
    char buffer[64];
    const std::to_chars_result r = std::to_chars(
        buffer, buffer + sizeof buffer, value,
        std::fabs(value) < 1e16 ? std::chars_format::fixed : std::chars_format::scientific);
    const std::string expected(buffer, r.ptr);
    const auto [sample, bound] = PrintedAsSampleAndBound(value);
    EXPECT_EQ(sample, expected);
    EXPECT_EQ(bound, expected);
  }
}

// Consecutive exemplars of the same time share its text (written once):
// each line still shows its own exemplar's time.
TEST(OpenMetricsTest, EachExemplarShowsItsOwnTimestamp) {
  Family counter;
  counter.name = "c_total";
  counter.type = MetricType::kCounter;
  const double times[] = {1765099531.125, 1765099531.125, 1765099532.5, 1765099531.125, 7};
  for (const double t : times) {
    Series series;
    series.labels = {{"i", std::to_string(counter.series.size())}};
    series.exemplar = std::make_shared<const Exemplar>(Exemplar{{"trace_id", "t"}, 1, t});
    counter.series.push_back(std::move(series));
  }
  counter.series.emplace_back();  // no exemplar
  counter.series.back().labels = {{"i", "x"}};
  EXPECT_EQ(SerializeOpenMetrics({counter}),
            "# TYPE c counter\n"
            "c_total{i=\"0\"} 0 # {trace_id=\"t\"} 1 1765099531.125\n"
            "c_total{i=\"1\"} 0 # {trace_id=\"t\"} 1 1765099531.125\n"
            "c_total{i=\"2\"} 0 # {trace_id=\"t\"} 1 1765099532.5\n"
            "c_total{i=\"3\"} 0 # {trace_id=\"t\"} 1 1765099531.125\n"
            "c_total{i=\"4\"} 0 # {trace_id=\"t\"} 1 7\n"
            "c_total{i=\"x\"} 0\n"
            "# EOF\n");
}

// The appending forms write after what the string holds.
TEST(TextFormatTest, AppendingFormsWriteAfterWhatIsThere) {
  Family gauge;
  gauge.name = "g";
  gauge.type = MetricType::kGauge;
  gauge.series.resize(1);
  gauge.series[0].value = 2.5;
  std::string out = "head";
  SerializeText({gauge}, &out);
  EXPECT_EQ(out, "head" + SerializeText({gauge}));
  out = "head";
  SerializeOpenMetrics({gauge}, &out);
  EXPECT_EQ(out, "head" + SerializeOpenMetrics({gauge}));
  out = "head";
  SerializeProtobuf({gauge}, &out);
  EXPECT_EQ(out, "head" + SerializeProtobuf({gauge}));
  out = "head";
  Gzip("some text", &out);
  EXPECT_EQ(out, "head" + Gzip("some text"));
}

// Every double the store can hold, printed, reads back as the same bits
// (issue 17: DBL_MAX printed as 1.797693134862316e+308, out of range).
TEST(TextFormatTest, EveryNumberReadsBackAsTheSameDouble) {
  using Limits = std::numeric_limits<double>;
  std::vector<double> values = {0.0,
                                -0.0,
                                0.1,
                                0.3,
                                1.0 / 3,
                                2.0 / 3,
                                1e21,
                                1e22,
                                1e23,
                                1e-7,
                                5e-5,
                                123456789012345678.0,
                                9007199254740993.0,  // 2^53 + 1, rounds to 2^53
                                9007199254740994.0,
                                14153.86400000109,
                                Limits::max(),
                                std::nextafter(Limits::max(), 0.0),
                                Limits::min(),
                                std::nextafter(Limits::min(), 0.0),  // largest subnormal
                                Limits::denorm_min(),
                                Limits::epsilon()};
  for (double i = 1; i <= 1e15; i *= 10) values.insert(values.end(), {i, i - 1, i + 7});
  // Every power of two and its neighbours, subnormal to DBL_MAX: every
  // exponent, and the edges where the decimal layout changes (1e-4, 1e16).
  for (int e = -1074; e <= 1023; ++e) {
    const double p = std::ldexp(1.0, e);
    values.insert(values.end(), {p, std::nextafter(p, 0.0), std::nextafter(p, Limits::max())});
  }
  for (double edge : {1e-4, 1e16}) {
    values.insert(values.end(), {edge, std::nextafter(edge, 0.0), std::nextafter(edge, 1e300)});
  }
  std::mt19937_64 random(17);
  for (int i = 0; i < 20000; ++i) {
    const std::uint64_t bits = random();
    double d;
    std::memcpy(&d, &bits, sizeof d);
    if (!std::isnan(d) && !std::isinf(d)) values.push_back(d);
    values.push_back(static_cast<double>(bits % 100000000) / 1000);  // millisecond-like sums
  }
  const std::size_t count = values.size();
  for (std::size_t i = 0; i < count; ++i) values.push_back(-values[i]);
  int failures = 0;
  for (const double value : values) {
    const auto [sample, bound] = PrintedAsSampleAndBound(value);
    for (const std::string& text : {sample, bound}) {
      char* end = nullptr;
      const double parsed = std::strtod(text.c_str(), &end);
      if (*end != '\0' || Bits(parsed) != Bits(value)) {
        ADD_FAILURE() << "printed " << text << " for the double with bits " << std::hex
                      << Bits(value) << "; that reads back as bits " << Bits(parsed);
        if (++failures == 10) return;
      }
    }
  }
}

TEST(TextFormatTest, SameAsPrometheusCppTextSerializerButForNumberDigits) {
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
  // The same families in both models: ours to serialize, prometheus-cpp's for its serializer.
  std::vector<Family> families;
  std::vector<prometheus::MetricFamily> their_families;
  const std::pair<MetricType, prometheus::MetricType> kTypes[] = {
      {MetricType::kCounter, prometheus::MetricType::Counter},
      {MetricType::kGauge, prometheus::MetricType::Gauge},
      {MetricType::kHistogram, prometheus::MetricType::Histogram}};
  for (const auto& [type, their_type] : kTypes) {
    Family f;
    prometheus::MetricFamily theirs;
    f.name = theirs.name = "m" + std::to_string(families.size());
    f.help = theirs.help = families.empty() ? "" : "help with \\ and \"quotes\"";
    f.type = type;
    theirs.type = their_type;
    for (std::size_t i = 0; i < values.size(); i += 7) {
      Series m;
      prometheus::ClientMetric t;
      if (i % 3 == 0) {
        m.labels = {{"a", "x\"y\\z\nw"}, {"b", ""}};
        t.label = {{"a", "x\"y\\z\nw"}, {"b", ""}};
      }
      m.value = t.counter.value = t.gauge.value = values[i];
      m.count = t.histogram.sample_count = i;
      m.sum = t.histogram.sample_sum = values[(i + 1) % values.size()];
      m.buckets = {{1, values[(i + 3) % values.size()], nullptr}, {2, 0.3, nullptr}};
      t.histogram.bucket = {{1, values[(i + 3) % values.size()]}, {2, 0.3}};
      if (i % 2 == 0) {
        m.buckets.push_back({i, std::numeric_limits<double>::infinity(), nullptr});
        t.histogram.bucket.push_back({i, std::numeric_limits<double>::infinity()});
      }
      f.series.push_back(m);
      theirs.metric.push_back(t);
    }
    families.push_back(f);
    their_families.push_back(theirs);
  }
  const std::string ours = SerializeText(families);
  const std::string theirs = prometheus::TextSerializer().Serialize(their_families);
  ASSERT_GT(ours.size(), 100000u);
  // prometheus-cpp prints numbers with %.16g, which loses the 17th digit some
  // doubles need, and NaN as "Nan". So the two texts split at spaces and
  // quotes must have the same pieces, except that where a number's pieces
  // differ, ours read back and printed with %.16g must give theirs.
  const auto pieces = [](const std::string& text) {
    std::vector<std::string> out(1);
    for (const char c : text) {
      if (c == ' ' || c == '"' || c == '\n') {
        out.back() += c;
        out.emplace_back();
      } else {
        out.back() += c;
      }
    }
    return out;
  };
  const std::vector<std::string> our_pieces = pieces(ours);
  const std::vector<std::string> their_pieces = pieces(theirs);
  ASSERT_EQ(our_pieces.size(), their_pieces.size());
  int differing_numbers = 0;
  for (std::size_t i = 0; i < our_pieces.size(); ++i) {
    if (our_pieces[i] == their_pieces[i]) continue;
    std::string number = our_pieces[i];
    const char separator = number.back();
    number.pop_back();
    char* end = nullptr;
    const double parsed = std::strtod(number.c_str(), &end);
    char theirs_of_ours[40];
    if (number == "NaN") {
      std::snprintf(theirs_of_ours, sizeof theirs_of_ours, "Nan%c", separator);
    } else {
      ASSERT_EQ(*end, '\0') << "not a number: " << our_pieces[i] << " (theirs " << their_pieces[i]
                            << ")";
      std::snprintf(theirs_of_ours, sizeof theirs_of_ours, "%.16g%c", parsed, separator);
    }
    ASSERT_EQ(theirs_of_ours, their_pieces[i]) << "ours: " << our_pieces[i];
    ++differing_numbers;
  }
  // The random bit patterns need 17 digits about half the time.
  EXPECT_GT(differing_numbers, 100);
}

}  // namespace
}  // namespace lle
