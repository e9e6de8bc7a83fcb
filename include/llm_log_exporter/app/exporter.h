#pragma once

#include <pthread.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "llm_log_exporter/app/self_metrics.h"
#include "llm_log_exporter/exposition/family.h"
#include "llm_log_exporter/map/mapper.h"
#include "llm_log_exporter/map/metric_rules.h"
#include "llm_log_exporter/store/store.h"

namespace lle {

/// The inputs the exporter reads. Each has its own `source` series in the
/// self-metrics (stdin, http, each file's path, the Redis key), and only
/// those it reads.
struct ExporterInputs {
  bool read_stdin = true;
  bool http_ingest = false;
  std::vector<std::string> files;  // followed files, by path
  // Queue inputs (Redis, then each Kafka topic), by `source` label, in
  // MakeInputs' order (QueueLabels in input_factory.h).
  std::vector<std::string> queues;
};

/// The source index of stdin, when it is read: it comes first.
inline constexpr std::size_t kStdinSource = 0;

/// The rules in force and the store of their metrics, replaced whole by a
/// reload. Immutable but for the store, which is thread-safe.
struct Generation {
  /// `shards`: the store's writer shards to allocate now (see Store).
  Generation(RuleSet rules, SumMode sums, std::size_t shards = 0)
      : mapper(std::move(rules), 0), store(mapper.Specs(), sums, shards) {}
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

/// Counts changes of the system prompt in input order, however workers
/// share the chunks: a pipeline counts the changes inside a chunk itself
/// and reports the prompts the chunk begins and ends with here, where a
/// change between chunks is counted once both sides are known. The count
/// thus does not depend on the number of workers. Thread-safe.
class PromptTracker {
 public:
  /// Chunk `seq` (of the exporter's sequence: every chunk of every source
  /// reports once, with or without prompts) began with prompt `first` and
  /// ended with `last` (both empty: it had none). Returns the changes between
  /// chunks that this settles, to be counted now. Should a chunk never
  /// report, its place is given up once 4,096 later ones wait.
  std::uint64_t EndChunk(std::uint64_t seq, std::string_view first, std::string_view last);

 private:
  struct Ends {
    std::string first;
    std::string last;
  };
  std::mutex mutex_;
  std::uint64_t next_ = 1;                 // the first chunk not settled yet
  std::map<std::uint64_t, Ends> waiting_;  // chunks that ended after it
  std::string last_;                       // the prompt in use after settled chunks
};

/// What every source shares: the current Generation of rules and metrics, the
/// self-metrics and their store, and the sequence that orders chunks across
/// sources (the latest gauge value wins). Owns all of them. Thread-safe: a
/// pipeline works a chunk under a shared hold of gate(); Reload() takes it whole.
class Exporter {
 public:
  /// Sources: stdin if read, then `http` with `inputs.http_ingest`, then
  /// each followed file by its path, then each queue input. `sums`: how the rules' metrics add up
  /// values (SumMode::kExact for --once).
  Exporter(RuleSet rules, ExporterInputs inputs, SumMode sums = SumMode::kFast);
  /// The same with stdin read exactly when no file is followed (--once, and
  /// the daemon without --input.file unless ingest comes alone).
  Exporter(RuleSet rules, bool http_ingest, const std::vector<std::string>& files = {},
           SumMode sums = SumMode::kFast)
      : Exporter(std::move(rules), ExporterInputs{files.empty(), http_ingest, files, {}}, sums) {}

  /// The source index of HTTP ingest (http_ingest only) and of the i-th
  /// followed file, for Pipeline and the self-metrics (stdin: kStdinSource).
  std::size_t http_source() const { return http_source_; }
  std::size_t FileSource(std::size_t i) const { return first_file_ + i; }
  /// The source index of the i-th queue input (ExporterInputs::queues).
  std::size_t QueueSource(std::size_t i) const { return first_queue_ + i; }

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

  /// Every metric family: the rules' metrics, then the self-metrics; with
  /// their exemplars unless `with_exemplars` is false (Store::Collect).
  std::vector<Family> Collect(bool with_exemplars = true);
  /// The same into `*families`, written over what it holds (a previous
  /// scrape's: Store::Collect reuses its strings and vectors) and cut to
  /// these families.
  void Collect(bool with_exemplars, std::vector<Family>* families);

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
  std::size_t http_source_ = 0;
  std::size_t first_file_ = 0;
  std::size_t first_queue_ = 0;
  SumMode sums_;
};

}  // namespace lle
