#pragma once

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "llm_log_exporter/app/exporter.h"
#include "llm_log_exporter/app/options.h"
#include "llm_log_exporter/app/pipeline.h"
#include "llm_log_exporter/exposition/http_server.h"
#include "llm_log_exporter/framing/body_framer.h"
#include "llm_log_exporter/framing/content_coding.h"

namespace lle {

/// The HTTP ingest endpoint's logic (what Fluent Bit's `http` output sends):
/// authorises and checks the head before reading any of the body, reads and
/// decodes it within the size limit, cuts it into lines and works them
/// synchronously, so a 2xx means every line is counted.
///
/// Owns a fixed pool of slots, each a pipeline (with its own shard) and the
/// buffers of one request: a request waits briefly for a free slot, else gets
/// 429 + Retry-After (Fluent Bit retries it). The buffers of all slots
/// together never exceed --ingest.memory-budget-bytes: a request that would
/// go over gets 503 + Retry-After (413 if it could not fit even alone), and
/// every path gives back what a request grew past a small kept size.
/// Thread-safe.
class HttpIngest {
 public:
  /// `bearer_token` empty: no authorisation required.
  HttpIngest(Exporter& exporter, const Options& options, std::string bearer_token);
  ~HttpIngest();

  /// Serves one request, reading its body through `read` (on the caller's thread).
  HttpReply Handle(const IngestRequest& request, const BodyReader& read);
  /// Counts a request the HTTP server refused before it got here.
  void CountRefused(int status);
  /// Bytes of the memory budget held now (buffers of all slots).
  std::size_t memory_in_use() const;

  /// Concurrent ingest requests (one pipeline each); more get 429. Leaves
  /// civetweb workers for scrapes.
  static constexpr std::size_t kPipelines = 2;

 private:
  struct Slot;
  enum class Grow { kOk, kOverBudget, kTooLarge };

  HttpReply Reply(int status, std::string body = {}, std::string extra_headers = {});
  // 400 for a body that can never be read, counted by `reason` too.
  HttpReply Unreadable(BodyError reason, std::string why);
  HttpReply Work(Slot& slot, BodyFormat format, ContentCoding coding, const IngestRequest& request,
                 const BodyReader& read);
  std::unique_ptr<Slot> TakeSlot();
  void ReturnSlot(std::unique_ptr<Slot> slot);
  // Makes room for `size` bytes in `buffer` of `slot`, charged to the budget first.
  Grow Reserve(Slot& slot, std::string& buffer, std::size_t size);
  // Charges what the buffers of `slot` really hold (they may grow past a Reserve).
  void Recharge(Slot& slot);

  Exporter& exporter_;
  std::string bearer_token_;
  const std::size_t max_body_bytes_;
  const std::size_t budget_bytes_;
  mutable std::mutex mutex_;  // guards everything below
  std::condition_variable slot_freed_;
  std::vector<std::unique_ptr<Slot>> idle_;
  std::size_t charged_ = 0;  // bytes of the budget held by all slots
  Shard* control_;           // per-request counters
};

}  // namespace lle
