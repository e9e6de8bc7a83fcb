#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "llm_log_exporter/app/exporter.h"
#include "llm_log_exporter/app/input.h"
#include "llm_log_exporter/app/options.h"
#include "llm_log_exporter/app/pipeline.h"
#include "llm_log_exporter/app/self_metrics.h"
#include "llm_log_exporter/store/store.h"

// librdkafka's C API, kept out of this header.
typedef struct rd_kafka_s rd_kafka_t;
typedef struct rd_kafka_conf_s rd_kafka_conf_t;
typedef struct rd_kafka_message_s rd_kafka_message_t;
typedef struct rd_kafka_topic_partition_list_s rd_kafka_topic_partition_list_t;

namespace lle {

/// The `source` label of topic `topic` read from `brokers` (a comma list):
/// `kafka://FIRST_BROKER/TOPIC`.
std::string KafkaSourceName(const std::string& brokers, const std::string& topic);

/// The librdkafka configuration --input.kafka.* asks for: the exporter's own
/// settings, then each --input.kafka.option and --input.kafka.option-file
/// (whose file is read here). nullptr with `*error` (one line, naming the
/// flag and property; never a value from a file or of a secret property:
/// password, secret, key.pem, jaas, oauthbearer.config) and `*exit_code`
/// (2: an invalid property; 1: a file that cannot be read). The caller owns
/// the result (rd_kafka_conf_destroy, or give it to rd_kafka_new).
rd_kafka_conf_t* MakeKafkaConf(const Options& options, std::string* error, int* exit_code);

/// Whether --input.kafka.* make a consumer: MakeKafkaConf, then a consumer
/// made and destroyed at once (librdkafka checks the properties together
/// there: TLS files, SASL mechanisms). false with `*error` and `*exit_code`
/// as MakeKafkaConf's (2 for a consumer that cannot be made).
bool CheckKafkaOptions(const Options& options, std::string* error, int* exit_code);

/// Reads --input.kafka.topic from --input.kafka.brokers as a member of the
/// consumer group --input.kafka.group: each message's value is one or more
/// log lines (raw), or a JSON envelope holding them in a field (json).
/// Several exporters in one group share the topics' partitions (Prometheus
/// sums them); a rebalance moves partitions between them.
///
/// At least once: a message's offset is stored for commit only once its lines
/// are applied to the store (OnApplied, in read order), and committed right
/// after (asynchronously, at most every 100 ms), when partitions are revoked
/// and when the input stops (then it leaves the group). A crash, a partition
/// lost without a revoke, or a commit the broker refused (it refuses them
/// while the group rebalances) replays what was applied after the last
/// commit to the partition's next owner.
///
/// Each topic is a `source` of its own (its Pipeline, its self-metrics);
/// llm_log_exporter_input_up{source} is 1 from the first assignment on while
/// a broker answers (0 after "all brokers down", until a message, an
/// assignment or a probe shows one again), and each broker error is logged
/// once until then.
///
/// Owns the consumer and the pipelines. Thread-safety as Input's: Stop(),
/// up() from any thread; the consumer is used by the reader thread only
/// (its callbacks run there, inside rd_kafka_consumer_poll). The Exporter
/// must outlive it.
class KafkaInput : public Input {
 public:
  /// `conf`: from MakeKafkaConf (taken over, also on failure). `sources`:
  /// the exporter's source index of each of options.kafka_topics. nullptr with
  /// `*error` if the consumer cannot be made.
  static std::unique_ptr<KafkaInput> Create(Exporter& exporter, const Options& options,
                                            std::vector<std::size_t> sources, rd_kafka_conf_t* conf,
                                            std::string* error);
  ~KafkaInput() override;

  /// Whether it has joined its group and a broker answers (the input_up gauge).
  bool up() const { return up_.load(); }
  const std::string& group() const { return group_; }

  /// Stores the offsets of batch's messages for commit (the reader's thread).
  void OnApplied(const AppliedBatch& batch) override;

 protected:
  /// Consumes until Stop(): returns kStopped after the lines read are applied,
  /// their offsets committed and the consumer closed (the group left).
  ByteSource::Status Read(ByteSource& bytes, std::string* error) override;

 private:
  // One topic: its pipeline, and the lines of messages polled but not yet applied.
  struct Topic {
    std::string name;
    std::size_t source = 0;
    std::unique_ptr<Pipeline> pipeline;
    std::string lines;  // whole lines, each ending in '\n'
    // The next offset of each partition whose messages are in `lines`.
    std::vector<std::pair<std::int32_t, std::int64_t>> offsets;
  };
  // The offsets to store once the batch `seq` is applied.
  struct PendingOffsets {
    std::uint64_t seq;
    std::size_t topic;
    std::vector<std::pair<std::int32_t, std::int64_t>> offsets;
  };

  KafkaInput(Exporter& exporter, const Options& options, std::vector<std::size_t> sources);

  class JsonEnvelope;
  // Takes one message's lines (or counts why it has none) into its topic.
  void Take(const rd_kafka_message_t& message);
  // Applies the lines taken so far, one batch per topic, and stores their offsets.
  void Flush();
  // Stores `offsets` of `topic` for the next commit.
  void StoreOffsets(const std::string& topic,
                    const std::vector<std::pair<std::int32_t, std::int64_t>>& offsets);
  // Commits the stored offsets now (synchronously); `why` names the occasion in the log.
  void Commit(const char* why);
  // Commits the stored offsets asynchronously (OnCommitted has the outcome).
  void CommitSoon();
  // An asynchronous commit's outcome (`err`, an rd_kafka_resp_err_t).
  void OnCommitted(int err);
  // up_ from joined_ and brokers_down_, and its gauges when it changes.
  void UpdateUp();
  // A broker answers again (a message, an assignment, a probe).
  void BrokersBack();
  // While down: whether a broker answers now (a metadata request, <= 1 s).
  bool ProbeBrokers();
  // A broker error (`err`, an rd_kafka_resp_err_t): logged once until a broker answers.
  void OnError(int err, const std::string& reason);
  // `err`: RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS or __REVOKE_PARTITIONS.
  void OnRebalance(int err, rd_kafka_topic_partition_list_t* partitions);
  friend struct KafkaCallbacks;  // librdkafka's callbacks, in kafka_input.cc

  const bool json_;
  const std::string field_;
  const std::string group_;
  std::vector<Topic> topics_;
  rd_kafka_t* consumer_ = nullptr;
  std::size_t held_bytes_ = 0;  // in all topics' `lines`
  std::deque<PendingOffsets> pending_;
  std::unique_ptr<JsonEnvelope> envelope_;  // json only
  Shard* shard_;  // the self-metrics of the reader thread (up, reconnects, unreadable)
  std::atomic<bool> up_{false};
  // up_ is joined_ && !brokers_down_; reconnects are counted when brokers
  // come back after the first join. The reader's thread only.
  bool joined_ = false;
  bool brokers_down_ = false;
  bool uncommitted_ = false;  // offsets stored since the last commit (or a failed one)
  std::chrono::steady_clock::time_point next_commit_;  // CommitSoon() not before
  std::vector<int> logged_errors_;  // broker errors logged since a broker last answered
  std::chrono::steady_clock::time_point next_probe_;
};

}  // namespace lle
