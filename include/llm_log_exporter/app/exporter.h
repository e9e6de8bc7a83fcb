#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "llm_log_exporter/app/self_metrics.h"
#include "llm_log_exporter/map/mapper.h"
#include "llm_log_exporter/store/store.h"

namespace lle {

/// Index of each input in the `source` label of the self-metrics.
enum SourceIndex : std::size_t { kStdinSource = 0, kHttpSource = 1 };

/// What every source shares: the rules, the self-metrics, the store, and the
/// sequence that orders chunks across sources (the latest gauge value wins).
/// Owns all of them; thread-safe as its parts are.
class Exporter {
 public:
  /// `http_ingest`: the HTTP source and its series exist only when enabled.
  explicit Exporter(bool http_ingest);

  const Mapper& mapper() const { return mapper_; }
  const SelfMetrics& self() const { return self_; }
  Store& store() { return store_; }
  std::atomic<std::uint64_t>& sequence() { return sequence_; }

 private:
  Mapper mapper_;
  SelfMetrics self_;
  Store store_;
  std::atomic<std::uint64_t> sequence_{0};
};

}  // namespace lle
