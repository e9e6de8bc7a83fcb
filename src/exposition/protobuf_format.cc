// The Prometheus protobuf exposition (SerializeProtobuf in text_format.h),
// written straight in the wire format of proto/metrics.proto: fields in
// number order, as the generated classes write them (a test compares the
// bytes), without building a message object per series.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "llm_log_exporter/exposition/text_format.h"

namespace lle {
namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "doubles are written as they are held");

// io.prometheus.client.MetricType
constexpr std::uint64_t kCounterType = 0;
constexpr std::uint64_t kGaugeType = 1;
constexpr std::uint64_t kHistogramType = 4;

// Appends protobuf fields to a string. A nested message's length is written
// in one byte first and widened once the message is done, if it must be.
class Wire {
 public:
  explicit Wire(std::string* out) : out_(*out) {}

  void Uint(int field, std::uint64_t value) {
    Tag(field, 0);
    Varint(value);
  }
  void Int(int field, std::int64_t value) { Uint(field, static_cast<std::uint64_t>(value)); }
  void Sint(int field, std::int64_t value) {  // zigzag: sint32 and sint64 alike
    Uint(field, (static_cast<std::uint64_t>(value) << 1) ^ static_cast<std::uint64_t>(value >> 63));
  }
  void Double(int field, double value) {
    Tag(field, 1);
    char bytes[sizeof value];
    std::memcpy(bytes, &value, sizeof value);
    out_.append(bytes, sizeof bytes);
  }
  void Bytes(int field, std::string_view text) {
    Tag(field, 2);
    Varint(text.size());
    out_.append(text);
  }
  // A message in field `field` (0: a length-delimited one of its own, no
  // tag), ended by End with what Begin returned.
  std::size_t Begin(int field) {
    if (field != 0) Tag(field, 2);
    out_.push_back('\0');
    return out_.size();
  }
  void End(std::size_t start) {
    std::size_t size = out_.size() - start;
    if (size < 0x80) {
      out_[start - 1] = static_cast<char>(size);
      return;
    }
    char length[10];
    std::size_t n = 0;
    for (; size >= 0x80; size >>= 7) length[n++] = static_cast<char>(size | 0x80);
    length[n++] = static_cast<char>(size);
    out_.insert(start, n - 1, '\0');
    std::memcpy(&out_[start - 1], length, n);
  }

 private:
  void Tag(int field, int wire_type) { Varint(static_cast<std::uint64_t>(field) << 3 | wire_type); }
  void Varint(std::uint64_t value) {
    for (; value >= 0x80; value >>= 7) out_.push_back(static_cast<char>(value | 0x80));
    out_.push_back(static_cast<char>(value));
  }

  std::string& out_;
};

void LabelPair(Wire& w, int field, const Label& label) {
  const std::size_t pair = w.Begin(field);
  w.Bytes(1, label.name);
  w.Bytes(2, label.value);
  w.End(pair);
}

void ExemplarOf(Wire& w, int field, const Exemplar& exemplar) {
  const std::size_t message = w.Begin(field);
  LabelPair(w, 1, exemplar.label);
  w.Double(2, exemplar.value);
  double whole = 0;
  const double fraction = std::modf(exemplar.timestamp_seconds, &whole);
  const std::size_t timestamp = w.Begin(3);
  w.Int(1, static_cast<std::int64_t>(whole));
  w.Int(2, static_cast<std::int32_t>(fraction * 1e9));
  w.End(timestamp);
  w.End(message);
}

// Sparse buckets as spans of consecutive indices (field `spans`), then their
// counts as deltas (field `deltas`).
void NativeBuckets(Wire& w, int spans, int deltas, const std::vector<NativeBucket>& buckets) {
  for (std::size_t i = 0; i < buckets.size();) {
    std::size_t end = i + 1;
    while (end < buckets.size() && buckets[end].index == buckets[end - 1].index + 1) ++end;
    const std::size_t span = w.Begin(spans);
    w.Sint(1, i == 0 ? buckets[i].index : buckets[i].index - buckets[i - 1].index - 1);
    w.Uint(2, end - i);
    w.End(span);
    i = end;
  }
  std::int64_t previous = 0;
  for (const NativeBucket& bucket : buckets) {
    const auto count = static_cast<std::int64_t>(bucket.count);
    w.Sint(deltas, count - previous);
    previous = count;
  }
}

void HistogramOf(Wire& w, const Series& series) {
  const std::size_t message = w.Begin(7);
  // With native buckets, the count is theirs: read after the classic cells,
  // it holds every observation those hold (Store::Collect).
  w.Uint(1, series.native ? series.native->count : series.count);
  w.Double(2, series.sum);
  for (const Bucket& bucket : series.buckets) {
    if (std::isinf(bucket.upper_bound)) continue;  // implied by sample_count
    const std::size_t b = w.Begin(3);
    w.Uint(1, bucket.cumulative_count);
    w.Double(2, bucket.upper_bound);
    if (bucket.exemplar) ExemplarOf(w, 3, *bucket.exemplar);
    w.End(b);
  }
  if (series.native) {
    const NativeHistogram& native = *series.native;
    w.Sint(5, native.schema);
    w.Double(6, native.zero_threshold);
    w.Uint(7, native.zero_count);
    NativeBuckets(w, 9, 10, native.negative);
    NativeBuckets(w, 12, 13, native.positive);
    if (native.positive.empty() && native.negative.empty() && native.zero_count == 0) {
      w.End(w.Begin(12));  // a no-op span: native, with no observation yet
    }
  }
  w.End(message);
}

}  // namespace

std::string SerializeProtobuf(const std::vector<Family>& families) {
  std::string out;
  SerializeProtobuf(families, &out);
  return out;
}

void SerializeProtobuf(const std::vector<Family>& families, std::string* out) {
  // Sized up front, roughly (a string of megabytes grown by doubling is
  // copied at every step): the fields' text, and some bytes per field.
  std::size_t estimate = 0;
  for (const Family& family : families) {
    estimate += family.name.size() + family.help.size() + 16;
    for (const Series& series : family.series) {
      std::size_t labels = 0;
      for (const Label& label : series.labels) labels += label.name.size() + label.value.size() + 8;
      estimate += labels + 32 + series.buckets.size() * 24;
      if (series.exemplar) estimate += series.exemplar->label.value.size() + 48;
      for (const Bucket& bucket : series.buckets) {
        if (bucket.exemplar) estimate += bucket.exemplar->label.value.size() + 48;
      }
    }
  }
  out->reserve(out->size() + estimate);
  Wire w(out);
  for (const Family& family : families) {
    if (family.series.empty()) continue;
    const std::size_t message = w.Begin(0);  // MetricFamily, its length first
    w.Bytes(1, family.name);
    w.Bytes(2, family.help);
    w.Uint(3, family.type == MetricType::kCounter ? kCounterType
              : family.type == MetricType::kGauge ? kGaugeType
                                                  : kHistogramType);
    for (const Series& series : family.series) {
      const std::size_t metric = w.Begin(4);
      for (const Label& label : series.labels) LabelPair(w, 1, label);
      switch (family.type) {
        case MetricType::kCounter: {
          const std::size_t counter = w.Begin(3);
          w.Double(1, series.value);
          if (series.exemplar) ExemplarOf(w, 2, *series.exemplar);
          w.End(counter);
          break;
        }
        case MetricType::kGauge: {
          const std::size_t gauge = w.Begin(2);
          w.Double(1, series.value);
          w.End(gauge);
          break;
        }
        case MetricType::kHistogram:
          HistogramOf(w, series);
          break;
      }
      w.End(metric);
    }
    w.End(message);
  }
}

}  // namespace lle
