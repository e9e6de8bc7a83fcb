#pragma once

#include <atomic>
#include <cstddef>
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
  /// Sources: stdin, then `http` with `http_ingest`, then each followed file
  /// by its path; each has its own series in the self-metrics.
  explicit Exporter(bool http_ingest, const std::vector<std::string>& files = {});

  /// The source index of the i-th followed file.
  std::size_t FileSource(std::size_t i) const { return first_file_ + i; }

  const Mapper& mapper() const { return mapper_; }
  const SelfMetrics& self() const { return self_; }
  Store& store() { return store_; }
  std::atomic<std::uint64_t>& sequence() { return sequence_; }

 private:
  Mapper mapper_;
  SelfMetrics self_;
  Store store_;
  std::atomic<std::uint64_t> sequence_{0};
  std::size_t first_file_ = 1;
};

}  // namespace lle
