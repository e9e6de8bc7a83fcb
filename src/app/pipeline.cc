#include "llm_log_exporter/app/pipeline.h"

namespace lle {

Pipeline::Pipeline(const Mapper& mapper, const SelfMetrics& self, std::size_t source, Shard* shard,
                   std::size_t max_line_bytes)
    : mapper_(mapper),
      self_(self),
      source_(source),
      shard_(shard),
      framer_(max_line_bytes),
      parser_(mapper.Rules().fields, mapper.Rules().request_keys) {}

void Pipeline::Feed(std::string_view lines, std::uint64_t seq, double wall_seconds) {
  // Workers may finish chunks out of order: the read order decides which
  // gauge value is the latest.
  shard_->SetStamp(seq);
  now_seconds_ = wall_seconds;
  framer_.Feed(lines, *this);
}

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
