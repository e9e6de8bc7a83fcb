// Native histograms: bucket indexing, the store's native buckets, and the
// protobuf exposition parsed back with the classes generated from
// proto/metrics.proto.
#include <gtest/gtest.h>

#include <cmath>
#include <deque>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "llm_log_exporter/exposition/text_format.h"
#include "llm_log_exporter/store/native_buckets.h"
#include "llm_log_exporter/store/store.h"
#include "proto/metrics.pb.h"

namespace lle {
namespace {

namespace pb = io::prometheus::client;

std::vector<std::pair<std::int32_t, std::uint64_t>> Pairs(const std::vector<NativeBucket>& b) {
  std::vector<std::pair<std::int32_t, std::uint64_t>> out;
  for (const NativeBucket& x : b) out.emplace_back(x.index, x.count);
  return out;
}

TEST(NativeBucketTest, UpperBoundsAreInclusive) {
  // Schema 3: bucket i is (2^((i-1)/8), 2^(i/8)].
  EXPECT_EQ(NativeBucketIndex(1, 3), 0);
  EXPECT_EQ(NativeBucketIndex(std::nextafter(1.0, 2.0), 3), 1);
  EXPECT_EQ(NativeBucketIndex(2, 3), 8);
  EXPECT_EQ(NativeBucketIndex(std::nextafter(2.0, 3.0), 3), 9);
  EXPECT_EQ(NativeBucketIndex(0.5, 3), -8);
  const double b1 = std::exp2(1.0 / 8);  // the top of bucket 1
  EXPECT_EQ(NativeBucketIndex(b1, 3), 1);
  EXPECT_EQ(NativeBucketIndex(std::nextafter(b1, 2.0), 3), 2);
  // Schema 0: powers of two; negative schemas: powers of 4, 16, ...
  EXPECT_EQ(NativeBucketIndex(1, 0), 0);
  EXPECT_EQ(NativeBucketIndex(1.5, 0), 1);
  EXPECT_EQ(NativeBucketIndex(2, 0), 1);
  EXPECT_EQ(NativeBucketIndex(0.3, 0), -1);
  EXPECT_EQ(NativeBucketIndex(4, -1), 1);
  EXPECT_EQ(NativeBucketIndex(4.1, -1), 2);
  EXPECT_EQ(NativeBucketIndex(0.3, -1), 0);    // (1/4, 1]
  EXPECT_EQ(NativeBucketIndex(0.25, -1), -1);  // (1/16, 1/4]
  EXPECT_EQ(NativeBucketIndex(65536, -4), 1);
  EXPECT_EQ(NativeBucketIndex(65537, -4), 2);
  EXPECT_EQ(NativeBucketIndex(std::nextafter(1.0, 2.0), 8), 1);
  // The extremes: every finite double has a bucket, +Inf the largest's.
  EXPECT_EQ(NativeBucketIndex(std::numeric_limits<double>::denorm_min(), -4), -67);
  EXPECT_EQ(NativeBucketIndex(std::numeric_limits<double>::max(), -4), 64);
  EXPECT_EQ(NativeBucketIndex(std::numeric_limits<double>::infinity(), -4), 64);
  EXPECT_EQ(NativeBucketIndex(std::numeric_limits<double>::infinity(), 8), 1024 * 256);
}

// The spec's definition, away from the bounds where rounding may differ.
TEST(NativeBucketTest, IndexIsTheCeilingOfLog2TimesTwoToTheSchema) {
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> exponent(-30, 30);
  for (int schema = kMinNativeSchema; schema <= kMaxNativeSchema; ++schema) {
    for (int i = 0; i < 2000; ++i) {
      const double v = std::exp2(exponent(rng));
      const double exact = std::log2(v) * std::ldexp(1.0, schema);
      if (std::fabs(exact - std::round(exact)) < 1e-6) continue;
      EXPECT_EQ(NativeBucketIndex(v, schema), static_cast<std::int32_t>(std::ceil(exact)))
          << v << " at schema " << schema;
    }
  }
}

TEST(NativeBucketTest, ZeroBucketNegativeValuesAndNaN) {
  NativeSpec spec;
  spec.enabled = true;
  spec.schema = 0;
  spec.zero_threshold = 0.001;
  NativeHistogram h = EmptyNative(spec);
  for (const double v :
       {0.0, 0.001, -0.001, -0.0, 3.0, -3.0, -5.0, 1.0, std::numeric_limits<double>::quiet_NaN()}) {
    ObserveNative(&h, v, 1, 160);
  }
  EXPECT_EQ(h.count, 9u);
  EXPECT_EQ(h.zero_count, 4u);
  EXPECT_EQ(Pairs(h.positive), (decltype(Pairs(h.positive)){{0, 1}, {2, 1}}));
  EXPECT_EQ(Pairs(h.negative), (decltype(Pairs(h.negative)){{2, 1}, {3, 1}}));
}

// Past max_buckets the resolution halves until they fit, as client_golang does.
TEST(NativeBucketTest, TooManyBucketsHalveTheResolution) {
  NativeSpec spec;
  spec.enabled = true;
  spec.schema = 3;
  NativeHistogram h = EmptyNative(spec);
  for (const double v : {1.0, 2.0, 4.0, 8.0}) ObserveNative(&h, v, 1, 4);
  EXPECT_EQ(h.schema, 3);
  ObserveNative(&h, 16, 1, 4);  // 5 buckets: 3, 2, 1, 0 still have 5; -1 has 3
  EXPECT_EQ(h.schema, -1);
  EXPECT_EQ(Pairs(h.positive), (decltype(Pairs(h.positive)){{0, 1}, {1, 2}, {2, 2}}));
  EXPECT_EQ(h.count, 5u);
  // Never below -4: there every finite double fits in 264 buckets.
  NativeHistogram wide = EmptyNative(spec);
  for (int e = -1000; e <= 1000; e += 10) ObserveNative(&wide, std::ldexp(1.0, e), 1, 1);
  EXPECT_EQ(wide.schema, kMinNativeSchema);
  EXPECT_LE(wide.positive.size(), kMaxNativeBucketsAtMinSchema);
}

TEST(NativeBucketTest, MergeTakesTheLowerSchema) {
  NativeSpec spec;
  spec.enabled = true;
  spec.schema = 1;
  NativeHistogram fine = EmptyNative(spec);
  NativeHistogram coarse = EmptyNative(spec);
  coarse.schema = 0;
  ObserveNative(&fine, 1.2, 1, 160);    // schema 1: bucket 1 (1, 1.41]; schema 0: bucket 1
  ObserveNative(&fine, 3, 1, 160);      // schema 1: bucket 4; schema 0: bucket 2
  ObserveNative(&coarse, 1.9, 1, 160);  // schema 0: bucket 1
  MergeNative(&fine, coarse, 160);
  EXPECT_EQ(fine.schema, 0);
  EXPECT_EQ(fine.count, 3u);
  EXPECT_EQ(Pairs(fine.positive), (decltype(Pairs(fine.positive)){{1, 2}, {2, 1}}));
}

MetricSpec NativeHistogramSpec(std::uint32_t max_buckets) {
  MetricSpec s;
  s.name = "h";
  s.type = MetricType::kHistogram;
  s.buckets = {1, 10};
  s.native.enabled = true;
  s.native.schema = 2;
  s.native.max_buckets = max_buckets;
  return s;
}

TEST(NativeStoreTest, ClassicAndNativeBucketsMergedOverShards) {
  MetricSpec classic = NativeHistogramSpec(160);
  classic.name = "classic";
  classic.native = {};
  Store store({NativeHistogramSpec(3), classic});
  Shard* a = store.AddShard();
  Shard* b = store.AddShard();
  for (const double v : {1.0, 2.0, 4.0}) a->Apply({0, 0, v, {}});
  b->Apply({0, 0, 100, {}});  // one more bucket in b: a is at schema 2, b too
  BoundSeries bound = b->Bind(0, 0);
  const double value = 0;
  b->Write(&bound, &value, 1);  // the zero bucket
  b->Apply({1, 0, 5, {}});
  const std::vector<Family> all = store.Collect();
  const Series& h = all.at(0).series.at(0);
  ASSERT_TRUE(h.native.has_value());
  EXPECT_EQ(h.count, 5u);
  EXPECT_EQ(h.buckets.at(0).cumulative_count, 2u);  // 0, 1
  EXPECT_EQ(h.native->count, 5u);
  EXPECT_EQ(h.native->zero_count, 1u);
  // 1, 2, 4, 100 at schema 2: 0, 4, 8, 27: 4 buckets > 3 → schema 1: 0, 2, 4, 14.
  // schema 0: 0, 1, 2, 7 → schema -1: 0, 1, 1, 4.
  EXPECT_EQ(h.native->schema, -1);
  EXPECT_EQ(Pairs(h.native->positive),
            (decltype(Pairs(h.native->positive)){{0, 1}, {1, 2}, {4, 1}}));
  EXPECT_FALSE(all.at(1).series.at(0).native.has_value());
  EXPECT_GT(Store::MaxBytes(NativeHistogramSpec(160), 1),
            Store::MaxBytes(classic, 1) + 160 * sizeof(NativeBucket));
}

TEST(NativeStoreTest, ScrapesDuringWritesCountEveryClassicObservationNatively) {
  Store store({NativeHistogramSpec(8)});
  Shard* shard = store.AddShard();
  constexpr int kWrites = 100000;
  std::thread writer([&] {
    for (int i = 0; i < kWrites; ++i) shard->Apply({0, 0, static_cast<double>(i % 50), {}});
  });
  for (;;) {
    const auto all = store.Collect();
    const Series& h = all.at(0).series.at(0);
    std::uint64_t native = h.native->zero_count;
    for (const NativeBucket& b : h.native->positive) native += b.count;
    EXPECT_EQ(native, h.native->count);
    EXPECT_GE(h.native->count, h.count);
    EXPECT_LE(h.native->positive.size(), 8u);
    if (h.count == kWrites) break;
  }
  writer.join();
}

// A sampled line standing for 3 requests counts 3 in the native buckets too.
TEST(NativeStoreTest, SampledLinesCountTheirTimes) {
  Store store({NativeHistogramSpec(160)});
  Shard* shard = store.AddShard();
  const Update update{0, 0, 3, {}};
  shard->Apply(&update, 1, nullptr, 3);
  BoundSeries bound = shard->Bind(0, 0);
  const double value = -3;
  shard->Write(&bound, &value, 1, nullptr, 2);
  const std::vector<Family> all = store.Collect();
  const Series& h = all.at(0).series.at(0);
  EXPECT_EQ(h.count, 5u);
  EXPECT_EQ(h.native->count, 5u);
  EXPECT_EQ(Pairs(h.native->positive), (decltype(Pairs(h.native->positive)){{7, 3}}));
  EXPECT_EQ(Pairs(h.native->negative), (decltype(Pairs(h.native->negative)){{7, 2}}));
}

TEST(NativeStoreTest, AbsorbKeepsNativeBuckets) {
  Store old({NativeHistogramSpec(160)});
  old.AddShard()->Apply({0, 0, 3, {}});
  Store next({NativeHistogramSpec(160)});
  next.Absorb(old);
  next.AddShard()->Apply({0, 0, 3, {}});
  const std::vector<Family> all = next.Collect();
  const Series& h = all.at(0).series.at(0);
  EXPECT_EQ(h.count, 2u);
  EXPECT_EQ(Pairs(h.native->positive), (decltype(Pairs(h.native->positive)){{7, 2}}));
}

// The delimited messages, parsed back with the generated classes.
std::vector<pb::MetricFamily> ParseDelimited(const std::string& body) {
  std::vector<pb::MetricFamily> out;
  std::size_t pos = 0;
  while (pos < body.size()) {
    std::uint64_t size = 0;
    for (int shift = 0;; shift += 7) {
      const auto byte = static_cast<unsigned char>(body.at(pos++));
      size |= std::uint64_t{byte & 0x7fu} << shift;
      if ((byte & 0x80) == 0) break;
    }
    out.emplace_back();
    EXPECT_TRUE(out.back().ParseFromArray(body.data() + pos, static_cast<int>(size)));
    pos += size;
  }
  return out;
}


void RefExemplar(const Exemplar& from, pb::Exemplar* to) {
  pb::LabelPair* label = to->add_label();
  label->set_name(std::string(from.label.name));
  label->set_value(std::string(from.label.value));
  to->set_value(from.value);
  double whole = 0;
  const double fraction = std::modf(from.timestamp_seconds, &whole);
  to->mutable_timestamp()->set_seconds(static_cast<std::int64_t>(whole));
  to->mutable_timestamp()->set_nanos(static_cast<std::int32_t>(fraction * 1e9));
}

// Sparse buckets as spans of consecutive indices and count deltas.
template <typename Spans, typename Deltas>
void RefBuckets(const std::vector<NativeBucket>& buckets, Spans* spans, Deltas* deltas) {
  std::int64_t previous_count = 0;
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    if (i == 0 || buckets[i].index != buckets[i - 1].index + 1) {
      pb::BucketSpan* span = spans->Add();
      span->set_offset(i == 0 ? buckets[i].index : buckets[i].index - buckets[i - 1].index - 1);
      span->set_length(0);
    }
    spans->Mutable(spans->size() - 1)->set_length(spans->Get(spans->size() - 1).length() + 1);
    const auto count = static_cast<std::int64_t>(buckets[i].count);
    deltas->Add(count - previous_count);
    previous_count = count;
  }
}

void RefHistogram(const Series& series, pb::Histogram* h) {
  // With native buckets, the count is theirs: read after the classic cells,
  // it holds every observation those hold (Store::Collect).
  h->set_sample_count(series.native ? series.native->count : series.count);
  h->set_sample_sum(series.sum);
  for (const Bucket& bucket : series.buckets) {
    if (std::isinf(bucket.upper_bound)) continue;  // implied by sample_count
    pb::Bucket* b = h->add_bucket();
    b->set_cumulative_count(bucket.cumulative_count);
    b->set_upper_bound(bucket.upper_bound);
    if (bucket.exemplar) RefExemplar(*bucket.exemplar, b->mutable_exemplar());
  }
  if (!series.native) return;
  const NativeHistogram& native = *series.native;
  h->set_schema(native.schema);
  h->set_zero_threshold(native.zero_threshold);
  h->set_zero_count(native.zero_count);
  RefBuckets(native.negative, h->mutable_negative_span(), h->mutable_negative_delta());
  RefBuckets(native.positive, h->mutable_positive_span(), h->mutable_positive_delta());
  if (native.positive.empty() && native.negative.empty() && native.zero_count == 0) {
    h->add_positive_span();  // no-op span: native, with no observation yet
  }
}

// The same exposition through the generated classes (libprotobuf-lite).
std::string ReferenceProtobuf(const std::vector<Family>& families) {
  std::string out;
  pb::MetricFamily message;
  for (const Family& family : families) {
    if (family.series.empty()) continue;
    message.Clear();
    message.set_name(family.name);
    message.set_help(family.help);
    message.set_type(family.type == MetricType::kCounter ? pb::COUNTER
                     : family.type == MetricType::kGauge ? pb::GAUGE
                                                         : pb::HISTOGRAM);
    for (const Series& series : family.series) {
      pb::Metric* metric = message.add_metric();
      for (const Label& label : series.labels) {
        pb::LabelPair* pair = metric->add_label();
        pair->set_name(label.name);
        pair->set_value(label.value);
      }
      switch (family.type) {
        case MetricType::kCounter:
          metric->mutable_counter()->set_value(series.value);
          if (series.exemplar) {
            RefExemplar(*series.exemplar, metric->mutable_counter()->mutable_exemplar());
          }
          break;
        case MetricType::kGauge:
          metric->mutable_gauge()->set_value(series.value);
          break;
        case MetricType::kHistogram:
          RefHistogram(series, metric->mutable_histogram());
          break;
      }
    }
    // The length as a varint, then the message.
    for (std::size_t n = message.ByteSizeLong();; n >>= 7) {
      out.push_back(static_cast<char>((n & 0x7f) | (n >= 0x80 ? 0x80 : 0)));
      if (n < 0x80) break;
    }
    message.AppendToString(&out);
  }
  return out;
}

TEST(ProtobufFormatTest, EveryFamilyParsesBackWithTheGeneratedClasses) {
  std::vector<Family> families(4);
  families[0] = {"requests_total", "Requests", MetricType::kCounter, {}};
  Series counter;
  counter.labels = {{"status", "ok"}};
  counter.value = 7;
  counter.exemplar = std::make_shared<const Exemplar>(Exemplar{{"trace_id", "abc"}, 1, 1.5});
  families[0].series = {counter};
  families[1] = {"temperature", "Degrees", MetricType::kGauge, {}};
  Series gauge;
  gauge.value = -2.5;
  families[1].series = {gauge};
  families[2] = {"empty_total", "No series", MetricType::kCounter, {}};
  families[3] = {"latency_seconds", "Latency", MetricType::kHistogram, {}};
  Series h;
  h.count = 9;
  h.sum = 12.5;
  h.buckets = {{4, 1, nullptr},
               {8, 10, std::make_shared<const Exemplar>(Exemplar{{"trace_id", "x"}, 9, 2})},
               {9, std::numeric_limits<double>::infinity(), nullptr}};
  NativeHistogram native;
  native.schema = 3;
  native.zero_threshold = 0x1p-128;
  native.count = 10;  // one more than the classic cells saw
  native.zero_count = 1;
  native.positive = {{0, 1}, {1, 2}, {3, 1}, {10, 5}};
  native.negative = {{-2, 0}};
  h.native = native;
  Series classic = h;
  classic.native.reset();
  classic.labels = {{"kind", "classic"}};
  families[3].series = {h, classic};

  // SerializeProtobuf writes the wire format itself: the very bytes the
  // generated classes write.
  EXPECT_EQ(SerializeProtobuf(families), ReferenceProtobuf(families));
  const std::vector<pb::MetricFamily> parsed = ParseDelimited(SerializeProtobuf(families));
  ASSERT_EQ(parsed.size(), 3u);  // the family without series is left out
  EXPECT_EQ(parsed[0].name(), "requests_total");
  EXPECT_EQ(parsed[0].help(), "Requests");
  EXPECT_EQ(parsed[0].type(), pb::COUNTER);
  EXPECT_EQ(parsed[0].metric(0).label(0).name(), "status");
  EXPECT_EQ(parsed[0].metric(0).label(0).value(), "ok");
  EXPECT_EQ(parsed[0].metric(0).counter().value(), 7);
  EXPECT_EQ(parsed[0].metric(0).counter().exemplar().label(0).value(), "abc");
  EXPECT_EQ(parsed[0].metric(0).counter().exemplar().timestamp().seconds(), 1);
  EXPECT_EQ(parsed[0].metric(0).counter().exemplar().timestamp().nanos(), 500000000);
  EXPECT_EQ(parsed[1].type(), pb::GAUGE);
  EXPECT_EQ(parsed[1].metric(0).gauge().value(), -2.5);

  ASSERT_EQ(parsed[2].type(), pb::HISTOGRAM);
  const pb::Histogram& n = parsed[2].metric(0).histogram();
  EXPECT_EQ(n.sample_count(), 10u);
  EXPECT_EQ(n.sample_sum(), 12.5);
  ASSERT_EQ(n.bucket_size(), 2);  // +Inf is implied
  EXPECT_EQ(n.bucket(1).cumulative_count(), 8u);
  EXPECT_EQ(n.bucket(1).upper_bound(), 10);
  EXPECT_EQ(n.bucket(1).exemplar().value(), 9);
  EXPECT_EQ(n.schema(), 3);
  EXPECT_EQ(n.zero_threshold(), 0x1p-128);
  EXPECT_EQ(n.zero_count(), 1u);
  // Buckets 0, 1 | 3 | 10: spans (0, 2), (1, 1), (6, 1); counts as deltas.
  ASSERT_EQ(n.positive_span_size(), 3);
  EXPECT_EQ(n.positive_span(0).offset(), 0);
  EXPECT_EQ(n.positive_span(0).length(), 2u);
  EXPECT_EQ(n.positive_span(1).offset(), 1);
  EXPECT_EQ(n.positive_span(1).length(), 1u);
  EXPECT_EQ(n.positive_span(2).offset(), 6);
  EXPECT_EQ(n.positive_span(2).length(), 1u);
  EXPECT_EQ(std::vector<std::int64_t>(n.positive_delta().begin(), n.positive_delta().end()),
            (std::vector<std::int64_t>{1, 1, -1, 4}));
  ASSERT_EQ(n.negative_span_size(), 1);
  EXPECT_EQ(n.negative_span(0).offset(), -2);

  const pb::Histogram& c = parsed[2].metric(1).histogram();
  EXPECT_EQ(c.sample_count(), 9u);
  EXPECT_FALSE(c.has_schema());
  EXPECT_FALSE(c.has_zero_threshold());
  EXPECT_EQ(c.positive_span_size(), 0);

  // A native histogram with no observation: a no-op span marks it native.
  Series empty;
  empty.native = NativeHistogram{};
  empty.buckets = {{0, std::numeric_limits<double>::infinity(), nullptr}};
  const std::vector<Family> empty_family = {{"h", "", MetricType::kHistogram, {empty}}};
  EXPECT_EQ(SerializeProtobuf(empty_family), ReferenceProtobuf(empty_family));
  const auto none = ParseDelimited(SerializeProtobuf(empty_family));
  ASSERT_EQ(none.at(0).metric(0).histogram().positive_span_size(), 1);
  EXPECT_EQ(none.at(0).metric(0).histogram().positive_span(0).length(), 0u);
}

TEST(ProtobufFormatTest, LongMessagesHaveTheGeneratedClassesLengths) {
  // Lengths over 127 and 16,383 bytes take two and three bytes.
  Family family{"requests_total", std::string(300, 'h'), MetricType::kCounter, {}};
  std::deque<std::string> trace_ids;  // an Exemplar's label views its text
  for (int i = 0; i < 2000; ++i) {
    Series s;
    s.labels = {{"route", "/v1/route/" + std::to_string(i)}, {"long", std::string(i % 200, 'x')}};
    s.value = i * 1.5;
    if (i % 3 == 0) {
      s.exemplar = std::make_shared<const Exemplar>(
          Exemplar{{"trace_id", trace_ids.emplace_back(std::to_string(i))}, 1, 1700000000.25 + i});
    }
    family.series.push_back(std::move(s));
  }
  const std::vector<Family> families = {family, family};
  const std::string body = SerializeProtobuf(families);
  EXPECT_GT(body.size(), 2u * 16384);
  EXPECT_EQ(body, ReferenceProtobuf(families));
  EXPECT_EQ(ParseDelimited(body).size(), 2u);
}

// As client_golang's expfmt.Negotiate: the delimited protobuf only.
TEST(ProtobufFormatTest, NegotiatedOnlyWhenAskedFor) {
  // What Prometheus 2.42 sends with --enable-feature=native-histograms.
  EXPECT_EQ(NegotiateFormat("application/vnd.google.protobuf;proto=io.prometheus.client."
                            "MetricFamily;encoding=delimited,application/openmetrics-text;"
                            "version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;"
                            "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
            ExpositionFormat::kProtobuf);
  EXPECT_EQ(NegotiateFormat("application/vnd.google.protobuf;proto=io.prometheus.client."
                            "MetricFamily;encoding=delimited;q=0.5,text/plain"),
            ExpositionFormat::kText);
  EXPECT_EQ(NegotiateFormat("application/vnd.google.protobuf;proto=io.prometheus.client."
                            "MetricFamily;encoding=text"),
            ExpositionFormat::kText);
  EXPECT_EQ(NegotiateFormat("application/vnd.google.protobuf;encoding=delimited"),
            ExpositionFormat::kText);
  EXPECT_STREQ(ContentType(ExpositionFormat::kProtobuf),
               "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; "
               "encoding=delimited");
}

}  // namespace
}  // namespace lle
