// The Prometheus protobuf exposition (SerializeProtobuf in text_format.h).
#include <cmath>

#include "llm_log_exporter/exposition/text_format.h"
#include "proto/metrics.pb.h"

namespace lle {
namespace {

namespace pb = io::prometheus::client;

void SetExemplar(const Exemplar& from, pb::Exemplar* to) {
  pb::LabelPair* label = to->add_label();
  label->set_name(from.label.name);
  label->set_value(from.label.value);
  to->set_value(from.value);
  double whole = 0;
  const double fraction = std::modf(from.timestamp_seconds, &whole);
  to->mutable_timestamp()->set_seconds(static_cast<std::int64_t>(whole));
  to->mutable_timestamp()->set_nanos(static_cast<std::int32_t>(fraction * 1e9));
}

// Sparse buckets as spans of consecutive indices and count deltas.
template <typename Spans, typename Deltas>
void SetBuckets(const std::vector<NativeBucket>& buckets, Spans* spans, Deltas* deltas) {
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

void SetHistogram(const Series& series, pb::Histogram* h) {
  // With native buckets, the count is theirs: read after the classic cells,
  // it holds every observation those hold (Store::Collect).
  h->set_sample_count(series.native ? series.native->count : series.count);
  h->set_sample_sum(series.sum);
  for (const Bucket& bucket : series.buckets) {
    if (std::isinf(bucket.upper_bound)) continue;  // implied by sample_count
    pb::Bucket* b = h->add_bucket();
    b->set_cumulative_count(bucket.cumulative_count);
    b->set_upper_bound(bucket.upper_bound);
    if (bucket.exemplar) SetExemplar(*bucket.exemplar, b->mutable_exemplar());
  }
  if (!series.native) return;
  const NativeHistogram& native = *series.native;
  h->set_schema(native.schema);
  h->set_zero_threshold(native.zero_threshold);
  h->set_zero_count(native.zero_count);
  SetBuckets(native.negative, h->mutable_negative_span(), h->mutable_negative_delta());
  SetBuckets(native.positive, h->mutable_positive_span(), h->mutable_positive_delta());
  if (native.positive.empty() && native.negative.empty() && native.zero_count == 0) {
    h->add_positive_span();  // no-op span: native, with no observation yet
  }
}

}  // namespace

std::string SerializeProtobuf(const std::vector<Family>& families) {
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
            SetExemplar(*series.exemplar, metric->mutable_counter()->mutable_exemplar());
          }
          break;
        case MetricType::kGauge:
          metric->mutable_gauge()->set_value(series.value);
          break;
        case MetricType::kHistogram:
          SetHistogram(series, metric->mutable_histogram());
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

}  // namespace lle
