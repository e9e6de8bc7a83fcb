#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "llm_log_exporter/app/build_info.h"
#include "llm_log_exporter/core/metric_spec.h"
#include "llm_log_exporter/framing/body_framer.h"

namespace lle {

/// What became of a received line: each line counts in exactly one.
enum class LineResult : std::uint32_t {
  kRequest,
  kEvent,
  kNotJson,
  kInvalidUtf8,
  kTooLong,
  kDropped,  // the input buffer was full (a live pipe never waits for us)
  kNumResults
};

/// The `result` label value of `result` ("request", "event", ...).
const char* LineResultName(LineResult result);

/// Why a Kafka message gave no line (the `reason` label of
/// llm_log_exporter_input_kafka_unreadable_messages_total).
enum class KafkaUnreadable : std::uint32_t {
  kEmpty,           // no value, or an empty one (a tombstone)
  kNotJson,         // --input.kafka.format=json: the value is not JSON
  kNotObject,       // ... it is JSON, but not an object
  kNoField,         // ... an object without the --input.kafka.field field
  kFieldNotString,  // ... whose field is not a string
  kNumReasons
};

/// The `reason` label value of `reason` ("empty", "not_json", ...).
const char* KafkaUnreadableName(KafkaUnreadable reason);

/// The exporter's own series (llm_log_exporter_*), all pre-created at 0, and
/// the updates that feed them. Immutable: safe to share between threads.
class SelfMetrics {
 public:
  /// `sources`: the `source` label values (stdin if read, then http with
  /// `http_ingest`, then the `files` followed files, last); metric ids start
  /// at `first_metric`.
  /// llm_log_exporter_build_info's labels come from `build_info` (qualified:
  /// BuildInfo() below is the update of that metric).
  /// With `http_ingest`, also llm_log_exporter_http_ingest_requests_total{code}
  /// and llm_log_exporter_http_ingest_unreadable_bodies_total{reason};
  /// with files, also llm_log_exporter_input_file_readable{source}.
  /// `kafka`: the last sources are that many Kafka topics (after the files),
  /// with llm_log_exporter_input_up{source},
  /// llm_log_exporter_input_reconnects_total{source} and
  /// llm_log_exporter_input_kafka_unreadable_messages_total{source,reason}.
  SelfMetrics(std::vector<std::string> sources, std::size_t files, std::uint32_t first_metric,
              const lle::BuildInfo& build_info, bool http_ingest = false, std::size_t kafka = 0);

  const std::vector<MetricSpec>& Specs() const { return specs_; }
  Update Line(std::size_t source, LineResult result, std::uint64_t lines = 1) const;
  Update Bytes(std::size_t source, std::size_t bytes) const;
  Update BuildInfo() const { return {first_metric_ + kBuildInfoMetric, 0, 1, {}}; }
  /// A config reload's outcome, and the gauge of the last (re)load.
  Update Reload(bool success) const { return {first_metric_ + kReloads, success ? 0u : 1u, 1, {}}; }
  Update LastReload(bool success) const {
    return {first_metric_ + kLastReload, 0, success ? 1.0 : 0.0, {}};
  }
  /// An answer of the HTTP ingest endpoint (codes outside kIngestCodes are ignored).
  Update IngestRequest(int code) const;
  /// A body the HTTP ingest endpoint answered 400 because it can never be read.
  Update IngestUnreadable(BodyError reason) const {
    return {first_metric_ + kIngestUnreadable, static_cast<std::uint32_t>(reason), 1, {}};
  }
  /// Whether the `file`-th followed file is open and read (a gauge).
  Update FileReadable(std::size_t file, bool readable) const;

  // --- Queue inputs (Kafka); `kafka` is the topic's index among them. ---
  /// Whether the input is connected and consuming (a gauge: 1 or 0).
  Update InputUp(std::size_t kafka, bool up) const;
  /// The input connected again after it had lost its brokers.
  Update InputReconnect(std::size_t kafka) const;
  /// A message that gave no line, by why.
  Update KafkaUnreadableMessage(std::size_t kafka, KafkaUnreadable reason) const;

  static constexpr int kIngestCodes[] = {200, 204, 400, 401, 405, 408,
                                         413, 415, 417, 429, 500, 503};

 private:
  enum : std::uint32_t {
    kLines,
    kBytes,
    kBuildInfoMetric,
    kReloads,
    kLastReload,
    kIngestRequests,
    kIngestUnreadable
  };
  void AddKafka(std::vector<std::string> kafka);

  std::uint32_t first_metric_;
  std::uint32_t file_readable_ = UINT32_MAX;  // its metric id, if there are files
  std::uint32_t input_up_ = UINT32_MAX;       // these three: if there are Kafka topics
  std::uint32_t input_reconnects_ = UINT32_MAX;
  std::uint32_t kafka_unreadable_ = UINT32_MAX;
  std::vector<MetricSpec> specs_;
};

}  // namespace lle
