// The Prometheus protobuf exposition (SerializeProtobuf in text_format.h),
// written straight in the wire format of proto/metrics.proto: fields in
// number order, as the generated classes write them (a test compares the
// bytes), without building a message object per series.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "append_buffer.h"
#include "llm_log_exporter/exposition/text_format.h"

namespace lle {
namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "doubles are written as they are held");

// io.prometheus.client.MetricType
constexpr std::uint64_t kCounterType = 0;
constexpr std::uint64_t kGaugeType = 1;
constexpr std::uint64_t kHistogramType = 4;

// Appends protobuf fields to a string (an AppendBuffer). A nested
// message's length is written in one byte first and widened once the
// message is done, if it must be.
class Wire {
 public:
  Wire(std::string* out, std::size_t estimate) : out_(*out, estimate) {}

  void Uint(int field, std::uint64_t value) {
    out_.Advance(Varint(Varint(out_.Need(2 * kMaxVarint), Tag(field, 0)), value));
  }
  void Int(int field, std::int64_t value) { Uint(field, static_cast<std::uint64_t>(value)); }
  void Sint(int field, std::int64_t value) {  // zigzag: sint32 and sint64 alike
    Uint(field, (static_cast<std::uint64_t>(value) << 1) ^ static_cast<std::uint64_t>(value >> 63));
  }
  void Double(int field, double value) {
    char* p = Varint(out_.Need(kMaxVarint + sizeof value), Tag(field, 1));
    std::memcpy(p, &value, sizeof value);
    out_.Advance(p + sizeof value);
  }
  void Bytes(int field, std::string_view text) {
    out_.Advance(Varint(Varint(out_.Need(2 * kMaxVarint), Tag(field, 2)), text.size()));
    out_.Put(text);
  }
  // A message in field `field` (0: a length-delimited one of its own, no
  // tag), ended by End with what Begin returned.
  std::size_t Begin(int field) {
    char* p = out_.Need(kMaxVarint + 1);
    if (field != 0) p = Varint(p, Tag(field, 2));
    *p++ = '\0';
    out_.Advance(p);
    return out_.size();
  }
  void End(std::size_t start) {
    const std::size_t size = out_.size() - start;
    if (size < 0x80) {
      out_.data()[start - 1] = static_cast<char>(size);
      return;
    }
    char length[kMaxVarint];
    const std::size_t n = static_cast<std::size_t>(Varint(length, size) - length);
    char* p = out_.Need(n - 1);
    std::memmove(p - size + n - 1, p - size, size);  // the message, n - 1 bytes on
    std::memcpy(out_.data() + start - 1, length, n);
    out_.Advance(p + n - 1);
  }

 private:
  static constexpr std::size_t kMaxVarint = 10;
  static std::uint64_t Tag(int field, int wire_type) {
    return static_cast<std::uint64_t>(field) << 3 | static_cast<std::uint64_t>(wire_type);
  }
  static char* Varint(char* p, std::uint64_t value) {
    for (; value >= 0x80; value >>= 7) *p++ = static_cast<char>(value | 0x80);
    *p++ = static_cast<char>(value);
    return p;
  }

  AppendBuffer out_;
};

void LabelPair(Wire& w, int field, std::string_view name, std::string_view value) {
  const std::size_t pair = w.Begin(field);
  w.Bytes(1, name);
  w.Bytes(2, value);
  w.End(pair);
}

void ExemplarOf(Wire& w, int field, const Exemplar& exemplar) {
  const std::size_t message = w.Begin(field);
  LabelPair(w, 1, exemplar.label.name, exemplar.label.value);
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
  Wire w(out, estimate);
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
      for (const Label& label : series.labels) LabelPair(w, 1, label.name, label.value);
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
