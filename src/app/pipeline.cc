#include "llm_log_exporter/app/pipeline.h"

#include <chrono>

namespace lle {

Pipeline::Pipeline(const Mapper& mapper, const SelfMetrics& self, std::size_t source, Shard* shard,
                   std::size_t max_line_bytes)
    : mapper_(mapper),
      self_(self),
      source_(source),
      shard_(shard),
      framer_(max_line_bytes),
      parser_(mapper.Rules().fields, mapper.Rules().request_keys) {}

void Pipeline::Feed(std::string_view chunk) {
  // One clock read per chunk, not per line: lines of a chunk arrived together.
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  now_seconds_ = std::chrono::duration<double>(now).count();
  shard_->SetStamp(static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(now).count()));
  shard_->Apply(self_.Bytes(source_, chunk.size()));
  framer_.Feed(chunk, *this);
}

void Pipeline::Finish() { framer_.Finish(*this); }

void Pipeline::OnTooLong() { Count(LineResult::kTooLong); }

void Pipeline::OnLine(std::string_view line) {
  parser_.Parse(line, record_);
  switch (record_.kind) {
    case LineKind::kRequest:
      Count(LineResult::kRequest);
      batch_.size = 0;
      mapper_.Map(record_, now_seconds_, batch_);
      for (std::size_t i = 0; i < batch_.size; ++i) shard_->Apply(batch_.items[i]);
      return;
    case LineKind::kEvent:
      Count(LineResult::kEvent);
      return;
    case LineKind::kNotJson:
      Count(LineResult::kNotJson);
      return;
    case LineKind::kInvalidUtf8:
      Count(LineResult::kInvalidUtf8);
      return;
  }
}

}  // namespace lle
