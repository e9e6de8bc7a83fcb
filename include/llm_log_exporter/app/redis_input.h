#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "llm_log_exporter/app/exporter.h"
#include "llm_log_exporter/app/input.h"
#include "llm_log_exporter/app/options.h"
#include "llm_log_exporter/app/pipeline.h"
#include "llm_log_exporter/source/redis_url.h"
#include "llm_log_exporter/store/store.h"

struct redisContext;
struct redisReply;

namespace lle {

/// The `source` label of the Redis input that `options` ask for (the URL
/// already checked by ParseOptions): the server without credentials, '#',
/// the key read, as in `redis://10.0.0.5:6379/0#llm-logs`.
std::string RedisSourceLabel(const Options& options);

/// Log lines read from Redis (docs/inputs.md), either
/// - a stream in a consumer group: XREADGROUP, each entry's line in one
///   field; entries XACKed only once their lines are in the store; at each
///   (re)connection the entries this consumer read but did not acknowledge
///   are read again first, and entries another consumer left unacknowledged
///   for --input.redis.claim-idle-ms are claimed (XAUTOCLAIM); or
/// - a list that writers RPUSH to: each entry LMOVEd (BLMOVE when it is empty)
///   to this consumer's processing list `LIST:processing:CONSUMER`, trimmed
///   from it once its line is in the store; entries left there by an earlier
///   run are applied first.
/// Either way delivery is at least once: a crash between the store update and
/// the acknowledgement counts that batch again.
///
/// The reader thread does everything: reads a batch, works it with its one
/// Pipeline, acknowledges it. A lost connection or a failing command is
/// logged and retried with backoff (100 ms doubling to 5 s) for as long as
/// the input runs; llm_log_exporter_input_up says whether it is connected.
/// Read() returns only on Stop() (kStopped), at once even inside a blocking
/// read: what the server hands over after that stays unacknowledged (and is
/// read again at the next start), never lost.
///
/// Owns its connection, pipeline and stop signal (the ByteSource given to
/// Input). Thread-safety as Input's; the Exporter must outlive it.
class RedisInput : public Input {
 public:
  /// `options`: checked by ParseOptions, with --input.redis.url and either
  /// --input.redis.stream or --input.redis.list.
  RedisInput(Exporter& exporter, std::size_t source, const Options& options);
  ~RedisInput() override;

  void OnApplied(const AppliedBatch& batch) override;

 protected:
  ByteSource::Status Read(ByteSource& bytes, std::string* error) override;

 private:
  class StopSource;
  struct ReplyDeleter {
    void operator()(redisReply* reply) const;
  };
  struct ContextDeleter {
    void operator()(redisContext* context) const;
  };
  using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

  RedisInput(Exporter& exporter, std::size_t source, const Options& options, StopSource* stop);

  // Connects, logs in and selects the database; false with `*error`.
  bool Connect(std::string* error);
  // Reads until Stop() (empty) or an error (its text). `*worked`: a batch was read.
  std::string RunStream(bool* worked);
  std::string RunList(bool* worked);
  // Claims the entries other consumers left pending over the idle time.
  std::string Claim(bool* worked);
  // Sends a command and waits for its reply (at most the context's timeout):
  // null with `*error` on a lost connection or an error reply.
  Reply Command(const std::vector<std::string>& args, std::string* error);
  // The same for a blocking read (XREADGROUP BLOCK, BLMOVE) that waits up
  // to `limit` for its reply, or until Stop(): null with `*error` empty then.
  Reply BlockingCommand(const std::vector<std::string>& args, std::chrono::milliseconds limit,
                        std::string* error);
  // Works a stream reply's entries ([id, [field, value, ...]] each) and
  // acknowledges them; false with `*error` if the XACK fails.
  bool WorkEntries(const redisReply& entries, std::string* error);
  // Works `lines` (the buffer_ built from `entries` entries): counts them
  // through the pipeline and reports the batch applied.
  void WorkLines(std::size_t entries);
  // Appends one entry's line to buffer_ (without a trailing newline of its
  // own); a single line over --input.max-line-bytes is counted too_long instead.
  void AddLine(const char* data, std::size_t size);
  void SetUp(bool up);

  const std::string label_;
  const RedisUrl url_;
  const std::string password_file_;
  const std::string stream_;
  const std::string list_;
  const std::string group_;
  const std::string consumer_;
  const std::string processing_;  // the list's processing list
  const std::string field_;
  const std::chrono::milliseconds claim_idle_;
  const std::size_t max_line_bytes_;
  StopSource* const stop_;  // owned by Input
  Pipeline pipeline_;
  Shard* shard_;     // the input's own self-metrics; the reader's thread only
  bool up_ = false;  // what llm_log_exporter_input_up says; the reader's thread only
  std::unique_ptr<redisContext, ContextDeleter> context_;
  std::string buffer_;  // the lines of the batch being worked, then kLinePadding bytes
  std::atomic<std::uint64_t> applied_through_{0};  // the last batch OnApplied reported
};

}  // namespace lle
