#pragma once

#include <prometheus/metric_family.h>
#include <pthread.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "llm_log_exporter/app/self_metrics.h"
#include "llm_log_exporter/map/mapper.h"
#include "llm_log_exporter/map/metric_rules.h"
#include "llm_log_exporter/store/store.h"

namespace lle {

/// Index of each input in the `source` label of the self-metrics.
enum SourceIndex : std::size_t { kStdinSource = 0, kHttpSource = 1 };

/// The rules in force and the store of their metrics, replaced whole by a
/// reload. Immutable but for the store, which is thread-safe.
struct Generation {
  /// `shards`: the store's writer shards to allocate now (see Store).
  explicit Generation(RuleSet rules, std::size_t shards = 0)
      : mapper(std::move(rules), 0), store(mapper.Specs(), shards) {}
  Mapper mapper;
  Store store;
};

/// A read-write lock that lets a waiting writer in before new readers: a
/// reload must not starve behind a steady stream of chunks. Not copyable.
class ReloadGate {
 public:
  ReloadGate();
  ~ReloadGate();
  ReloadGate(const ReloadGate&) = delete;
  ReloadGate& operator=(const ReloadGate&) = delete;
  void lock_shared() { pthread_rwlock_rdlock(&lock_); }
  void unlock_shared() { pthread_rwlock_unlock(&lock_); }
  void lock() { pthread_rwlock_wrlock(&lock_); }
  void unlock() { pthread_rwlock_unlock(&lock_); }

 private:
  pthread_rwlock_t lock_;
};

/// The system prompt seen last, in input order, so that a change is counted
/// once however many workers see lines with the new prompt. Thread-safe.
class PromptTracker {
 public:
  /// `hash` was seen on a line read at `stamp`: true if it replaces another.
  /// A line older than the latest seen changes nothing.
  bool Observe(std::string_view hash, std::uint64_t stamp);

 private:
  std::mutex mutex_;
  std::string last_;
  std::uint64_t last_stamp_ = 0;
};

/// What every source shares: the current Generation of rules and metrics, the
/// self-metrics and their store, and the sequence that orders chunks across
/// sources (the latest gauge value wins). Owns all of them. Thread-safe: a
/// pipeline works a chunk under a shared hold of gate(); Reload() takes it whole.
class Exporter {
 public:
  /// Sources: stdin, then `http` with `http_ingest`, then each followed file
  /// by its path; each has its own series in the self-metrics.
  Exporter(RuleSet rules, bool http_ingest, const std::vector<std::string>& files = {});

  /// The source index of the i-th followed file.
  std::size_t FileSource(std::size_t i) const { return first_file_ + i; }

  /// The generation in force; call with gate() held (shared or whole).
  const std::shared_ptr<Generation>& generation() const { return generation_; }
  ReloadGate& gate() { return gate_; }

  /// Puts `rules` in force: series of metrics it keeps (same name, type,
  /// labels and buckets) keep their values, others start at 0 or disappear.
  /// Waits for chunks being worked; no line is lost or counted twice. The new
  /// store's shards are all allocated here: if memory runs out, this throws
  /// std::bad_alloc and the old rules stay in force, untouched.
  void Reload(RuleSet rules);
  /// Counts a writer of the rules' store (a Pipeline), for Reload to allocate its shard.
  void AddWriter() { ++writers_; }
  /// Counts a reload's outcome in the self-metrics.
  void CountReload(bool success);

  /// Every metric family: the rules' metrics, then the self-metrics.
  std::vector<prometheus::MetricFamily> Collect();

  const SelfMetrics& self() const { return self_; }
  Store& self_store() { return self_store_; }
  std::atomic<std::uint64_t>& sequence() { return sequence_; }
  PromptTracker& prompts() { return prompts_; }

 private:
  ReloadGate gate_;
  std::shared_ptr<Generation> generation_;
  SelfMetrics self_;
  Store self_store_;
  Shard* control_;  // build info and reloads, written under gate_ held whole
  std::atomic<std::uint64_t> sequence_{0};
  std::atomic<std::size_t> writers_{0};
  PromptTracker prompts_;
  std::size_t first_file_ = 1;
};

}  // namespace lle
