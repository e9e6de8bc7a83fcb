#pragma once

#include <cstddef>
#include <string_view>

#include "llm_log_exporter/app/self_metrics.h"
#include "llm_log_exporter/framing/line_framer.h"
#include "llm_log_exporter/map/mapper.h"
#include "llm_log_exporter/parse/line_parser.h"
#include "llm_log_exporter/parse/record.h"
#include "llm_log_exporter/source/chunk_queue.h"
#include "llm_log_exporter/store/store.h"

namespace lle {

/// One worker's path through the stages: chunks of whole lines → lines →
/// records → updates → its own shard. Owns the framer, parser and scratch
/// space; one per worker thread, not thread-safe. Mapper and SelfMetrics must
/// outlive it.
class Pipeline : private LineSink {
 public:
  Pipeline(const Mapper& mapper, const SelfMetrics& self, std::size_t source, Shard* shard,
           std::size_t max_line_bytes);

  /// A chunk of whole lines (see ChunkReader).
  void Feed(const Chunk& chunk) {
    Feed(std::string_view(chunk.bytes.data(), chunk.size), chunk.seq, chunk.wall_seconds);
  }
  /// Whole lines followed by kLinePadding readable bytes, received in order
  /// `seq` (the later wins for gauges) at Unix time `wall_seconds`.
  void Feed(std::string_view lines, std::uint64_t seq, double wall_seconds);

 private:
  void OnLine(std::string_view line) override;
  void OnTooLong() override;
  void Count(LineResult result) { shard_->Apply(self_.Line(source_, result)); }

  const Mapper& mapper_;
  const SelfMetrics& self_;
  std::size_t source_;
  Shard* shard_;
  LineFramer framer_;
  LineParser parser_;
  Record record_;
  UpdateBatch batch_;
  double now_seconds_ = 0;  // wall time at which the chunk being framed was read
};

}  // namespace lle
