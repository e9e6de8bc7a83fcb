#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "llm_log_exporter/app/exporter.h"
#include "llm_log_exporter/app/self_metrics.h"
#include "llm_log_exporter/framing/line_framer.h"
#include "llm_log_exporter/map/mapper.h"
#include "llm_log_exporter/parse/line_header.h"
#include "llm_log_exporter/parse/line_parser.h"
#include "llm_log_exporter/parse/log_level.h"
#include "llm_log_exporter/parse/record.h"
#include "llm_log_exporter/parse/sensitive.h"
#include "llm_log_exporter/parse/text_rule.h"
#include "llm_log_exporter/parse/traceback.h"
#include "llm_log_exporter/source/chunk_queue.h"
#include "llm_log_exporter/store/store.h"

namespace lle {

/// One worker's path through the stages: chunks of whole lines → lines →
/// records → updates → its own shards. Owns the framer, parser and scratch
/// space; one per worker thread, not thread-safe. The Exporter must outlive it.
/// Cache-line aligned: it is written on every line, and another worker's
/// object must not share a line with it.
class alignas(64) Pipeline : private LineSink {
 public:
  Pipeline(Exporter& exporter, std::size_t source, std::size_t max_line_bytes);

  /// A chunk of whole lines (see ChunkReader).
  void Feed(const Chunk& chunk) {
    Feed(std::string_view(chunk.bytes.data(), chunk.size), chunk.seq, chunk.wall_seconds);
  }
  /// Whole lines followed by kLinePadding readable bytes, received in order
  /// `seq` (the later wins for gauges) at Unix time `wall_seconds`.
  void Feed(std::string_view lines, std::uint64_t seq, double wall_seconds);
  /// Counts `bytes` of input received (a stream reader counts its own).
  void CountBytes(std::size_t bytes) { self_shard_->Apply(self_.Bytes(source_, bytes)); }
  /// End of input: a traceback still open counts now.
  void Finish();

 private:
  void OnLine(std::string_view line, bool cr) override;
  void OnTooLong() override;
  void ApplyBatch();
  // A request record (a JSON line's, or a text rule's match): its updates
  // into batch_ and its direct values written, with its exemplar and sample
  // rate if it has them (a test of two masks if not).
  void MapRequest(const Record& record, bool from_text);
  // The exemplar of a request record (RuleSet::exemplar_fields) into
  // exemplar_; false if it has none. Dropped ones count as field errors.
  bool FindExemplar(const Record& record);
  // How many requests a record stands for: 1/its sample rate
  // (RuleSet::sample_rate_fields), rounded at random where it is no whole
  // number; 1 for an unusable rate, which counts as a field error.
  std::uint64_t SampledTimes(const Record& record);
  // Writes a sampled request line's direct values and applies the updates
  // Map added from batch_.items[from] on, each counting `times` times; leaves
  // the field errors among them in the batch.
  void ApplySampled(std::size_t from, std::uint64_t times);
  // Runs the text rules over a line that is no JSON request line; true if
  // one of them made it a request.
  bool MatchText(std::string_view line);
  void EndTraceback(const TracebackTracker::Result& result);
  // Lines are tallied per chunk and counted once at its end: a chunk is
  // worked whole before anything else reads the tallies.
  void Count(LineResult result) { ++tally_[static_cast<std::size_t>(result)]; }
  void CountTallies();
  // Reports the chunk's system prompts and counts the changes they settle.
  void EndPrompts(std::uint64_t seq);
  // Moves to the exporter's current generation (after a reload).
  void Follow(const std::shared_ptr<Generation>& generation);

  Exporter& exporter_;
  const SelfMetrics& self_;
  std::size_t source_;
  Shard* self_shard_;
  std::shared_ptr<Generation> generation_;  // the rules this pipeline works with
  Shard* shard_ = nullptr;                  // in generation_'s store
  std::vector<BoundSeries> bound_;          // per request rule: where its direct value goes
  DirectValues direct_;
  std::unique_ptr<LineParser> parser_;
  std::unique_ptr<TextMatcher> text_;  // over generation_'s text rules
  Record text_record_;                 // a text rule's fields; all kMissing between lines
  LineFramer framer_;
  TracebackTracker tracker_;  // one per stream of lines: blocks span lines
  Record record_;
  std::string unwrap_scratch_;  // a line without its ANSI codes (Unwrap)
  UpdateBatch batch_;
  // The line being worked has an exemplar for its batch's updates from
  // exemplar_from_ on (its request rules'); else kNoExemplar.
  static constexpr std::size_t kNoExemplar = ~std::size_t{0};
  std::size_t exemplar_from_ = kNoExemplar;
  std::uint64_t exemplar_fields_ = 0;  // bit i: field i is in RuleSet::exemplar_fields
  std::uint64_t sample_rate_fields_ = 0;  // bit i: field i is in RuleSet::sample_rate_fields
  // Rates below it (a line standing for over a billion requests) are refused.
  static constexpr double kMinSampleRate = 1e-9;
  std::uint64_t random_ = 0;  // SampledTimes' generator state
  ExemplarRef exemplar_;
  std::uint64_t tally_[static_cast<std::size_t>(LineResult::kNumResults)] = {};
  std::uint64_t chunk_seq_ = 0;
  std::uint64_t line_in_chunk_ = 0;
  char prompt_buffer_[16];
  std::string_view prompt_hash_;  // of the line being worked, until its updates are applied
  // The system prompts the chunk being worked began and ends with so far
  // (empty: none yet), for the exporter's PromptTracker.
  std::string first_prompt_;
  std::string last_prompt_;
  std::uint64_t prompt_changes_ = 0;  // inside the chunk, not yet counted
  double now_seconds_ = 0;            // wall time at which the chunk being framed was read
};

}  // namespace lle
