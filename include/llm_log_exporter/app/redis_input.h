#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
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
struct timeval;

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
/// Pipeline, acknowledges it. It keeps one read ahead: the next batch is asked
/// for (without blocking) before this one is worked, and the acknowledgement
/// sent after it without waiting for the answer, so that Redis prepares the
/// next batch while this one is parsed. Replies are made in an arena (no
/// allocation per element), which the reader resets between batches. A lost
/// connection or a failing command is logged and retried with backoff (100 ms
/// doubling to 5 s) for as long as the input runs; llm_log_exporter_input_up
/// says whether it is connected. Read() returns only on Stop() (kStopped),
/// once the batch in hand and the one read ahead are worked and
/// acknowledged; a blocking read under way is ended with CLIENT UNBLOCK from a
/// second connection and what it was handed worked too, so that a clean stop
/// leaves nothing pending. Without CLIENT ID or UNBLOCK (an ACL) it is
/// abandoned instead: what the server handed it stays unacknowledged (read
/// again at the next start), never lost.
///
/// Owns its connection, reply arena, pipeline and stop signal (the
/// ByteSource given to Input). Thread-safety as Input's; the Exporter must outlive it.
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
  class ReplyArena;
  struct ContextDeleter {
    void operator()(redisContext* context) const;
  };
  using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;
  // A reply, in arena_: valid until the reader resets it (between batches).
  using Reply = const redisReply*;
  // A reply owed by the server for a command sent ahead (Send), in order.
  struct Owed {
    bool read;         // a read of entries (else an acknowledgement)
    const char* name;  // the command, for errors
  };

  RedisInput(Exporter& exporter, std::size_t source, const Options& options, StopSource* stop);

  // A connection, logged in (AUTH), with hiredis's own reader and `timeout`
  // for its commands; null with `*error`.
  ContextPtr Open(timeval timeout, std::string* error);
  // Connects context_ (Open), with replies in the arena, selects the database
  // and takes its CLIENT ID; false with `*error`.
  bool Connect(std::string* error);
  // Logs, once for the input's life, that a stop cannot CLIENT UNBLOCK
  // (`problem`: why).
  void WarnCannotUnblock(const std::string& problem);
  // Reads until Stop() (empty) or an error (its text). `*worked`: a batch was read.
  std::string RunStream(bool* worked);
  std::string RunList(bool* worked);
  // Claims the entries other consumers left pending over the idle time.
  std::string Claim(bool* worked);
  // Sends a command and waits for its reply (at most the context's timeout):
  // null with `*error` on a lost connection or an error reply. Only with no
  // reply owed.
  Reply Command(const std::vector<std::string>& args, std::string* error);
  // Sends a command without waiting for its reply: owed_ says what comes.
  bool Send(const std::vector<const char*>& argv, const std::vector<std::size_t>& lengths,
            Owed owed, std::string* error);
  bool Send(const std::vector<std::string>& args, Owed owed, std::string* error);
  // Takes the next owed reply (at most the context's timeout), as Command.
  Reply Receive(std::string* error);
  // Takes every owed reply; a read's entries are worked and acknowledged
  // (synchronously). Empty, or the error.
  std::string SettleOwed(bool* worked);
  // The pipelined loop of a stream (`list` false: XREADGROUP >) or a list
  // (the move script), one read ahead, until Stop() or an error (its text).
  std::string ReadAhead(bool list, bool* worked);
  // A batch's entries (a stream's [[key, [entry, ...]]], a list's array), or
  // null: none (nil, empty), or malformed with `*error`.
  Reply BatchEntries(bool list, Reply reply, std::string* error);
  // Works a batch of either kind and acknowledges it: sent ahead
  // (`ahead`), or waited for. False with `*error`.
  bool WorkBatch(bool list, const redisReply& entries, bool ahead, std::string* error);
  // The same for a blocking read (XREADGROUP BLOCK, BLMOVE) that waits up
  // to `limit` for its reply. On Stop() it is ended by EndBlockingRead.
  Reply BlockingCommand(const std::vector<std::string>& args, std::chrono::milliseconds limit,
                        std::string* error);
  // Stopped in the blocking read `name` (its reply due by `deadline`): from
  // a second connection, CLIENT UNBLOCK ... TIMEOUT, and its reply taken as
  // any (nil, or what Redis had already handed it: entries now pending, or
  // moved to the processing list). Null with `*error` empty when it cannot
  // be unblocked (no CLIENT ID, refused, no second connection): the read is
  // abandoned (abandoned_), its reply never read.
  Reply EndBlockingRead(const std::string& name, std::chrono::steady_clock::time_point deadline,
                        std::string* error);
  // Works a stream reply's entries ([id, [field, value, ...]] each) and
  // acknowledges them (ahead, or waited for); false with `*error` if the XACK fails.
  bool WorkEntries(const redisReply& entries, bool ahead, std::string* error);
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
  std::unique_ptr<ReplyArena> arena_;  // the connection's replies
  ContextPtr context_;
  long long client_id_ = -1;           // context_'s CLIENT ID; -1: unknown (refused)
  bool unblock_warned_ = false;        // WarnCannotUnblock logged
  bool abandoned_ = false;             // a blocking read was abandoned at the stop
  std::uint64_t entries_counted_ = 0;  // entries worked since the start
  std::deque<Owed> owed_;  // replies to commands sent ahead, in order
  std::string buffer_;  // the lines of the batch being worked, then kLinePadding bytes
  // An XACK's arguments: pointers into the batch's reply, in arena_.
  std::vector<const char*> ack_argv_;
  std::vector<std::size_t> ack_lengths_;
  std::atomic<std::uint64_t> applied_through_{0};  // the last batch OnApplied reported
};

}  // namespace lle
