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

/// Why a queue input's entry (a Redis stream or list entry, a Kafka
/// message) gave no line: the `reason` label of
/// llm_log_exporter_input_entries_skipped_total. Such entries are
/// acknowledged (or their offsets committed) all the same.
enum class SkippedEntry : std::uint32_t {
  kMissingField,    // no field of the line: a stream entry, a JSON envelope
  kTrimmed,         // a stream entry deleted (MAXLEN, XDEL) while pending, before it was read
  kEmpty,           // no value, or an empty one (a Kafka tombstone)
  kNotJson,         // a JSON envelope expected (--input.kafka.format=json): not JSON
  kNotObject,       // ... JSON, but not an object
  kFieldNotString,  // ... whose field of the line is not a string
  kNumReasons
};

/// The `reason` label value of `reason` ("missing_field", "trimmed", ...).
const char* SkippedEntryName(SkippedEntry reason);

/// The exporter's own series (llm_log_exporter_*), all pre-created at 0, and
/// the updates that feed them. Immutable: safe to share between threads.
class SelfMetrics {
 public:
  /// `sources`: the `source` label values (stdin if read, then http with
  /// `http_ingest`, then the `files` followed files, then the `queues` queue
  /// inputs, last); metric ids start at `first_metric`.
  /// llm_log_exporter_build_info's labels come from `build_info` (qualified:
  /// BuildInfo() below is the update of that metric).
  /// With `http_ingest`, also llm_log_exporter_http_ingest_requests_total{code}
  /// and llm_log_exporter_http_ingest_unreadable_bodies_total{reason};
  /// with files, also llm_log_exporter_input_file_readable{source};
  /// `queues`: the last sources are that many queue inputs (Redis, Kafka
  /// topics), with llm_log_exporter_input_up{source},
  /// llm_log_exporter_input_reconnects_total{source} and
  /// llm_log_exporter_input_entries_skipped_total{source,reason}.
  SelfMetrics(std::vector<std::string> sources, std::size_t files, std::uint32_t first_metric,
              const lle::BuildInfo& build_info, bool http_ingest = false, std::size_t queues = 0);

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
  // --- Queue inputs; `source` is the input's source index (the same as
  // Line()'s, one of the last `queues`).
  /// Whether the input is connected and reading (a gauge: 1 or 0).
  Update InputUp(std::size_t source, bool up) const {
    return {input_up_, Queue(source), up ? 1.0 : 0.0, {}};
  }
  /// The input connects again after its connection was lost or an attempt failed.
  Update InputReconnect(std::size_t source) const { return {input_reconnects_, Queue(source), 1, {}}; }
  /// `entries` entries that gave no line, by why.
  Update EntriesSkipped(std::size_t source, SkippedEntry reason, std::uint64_t entries = 1) const {
    const auto series = Queue(source) * static_cast<std::uint32_t>(SkippedEntry::kNumReasons) +
                        static_cast<std::uint32_t>(reason);
    return {entries_skipped_, series, static_cast<double>(entries), {}};
  }

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
  void AddQueues(std::vector<std::string> queues);
  // Appends `spec`; its metric id.
  std::uint32_t AddSpec(MetricSpec spec);
  // A queue input's index among the queue inputs (out of range: ignored by the store).
  std::uint32_t Queue(std::size_t source) const {
    return static_cast<std::uint32_t>(source - first_queue_source_);
  }

  std::uint32_t first_metric_;
  std::uint32_t file_readable_ = UINT32_MAX;  // its metric id, if there are files
  std::size_t first_queue_source_ = 0;
  // These three: if there are queue inputs.
  std::uint32_t input_up_ = UINT32_MAX;
  std::uint32_t input_reconnects_ = UINT32_MAX;
  std::uint32_t entries_skipped_ = UINT32_MAX;
  std::vector<MetricSpec> specs_;
};

}  // namespace lle
