#include "llm_log_exporter/app/pipeline.h"

#include <shared_mutex>

namespace lle {

Pipeline::Pipeline(Exporter& exporter, std::size_t source, std::size_t max_line_bytes)
    : exporter_(exporter),
      self_(exporter.self()),
      source_(source),
      self_shard_(exporter.self_store().AddShard()),
      framer_(max_line_bytes) {
  std::shared_lock<ReloadGate> lock(exporter.gate());
  Follow(exporter.generation());
}

void Pipeline::Follow(const std::shared_ptr<Generation>& generation) {
  generation_ = generation;
  mapper_ = &generation->mapper;
  shard_ = generation->store.AddShard();
  parser_ = std::make_unique<LineParser>(mapper_->Rules().fields, mapper_->Rules().request_keys);
}

void Pipeline::Feed(std::string_view lines, std::uint64_t seq, double wall_seconds) {
  // A reload waits for the chunk being worked, so each chunk is worked whole
  // by one generation's rules.
  std::shared_lock<ReloadGate> lock(exporter_.gate());
  if (exporter_.generation() != generation_) Follow(exporter_.generation());
  // Workers may finish chunks out of order: the read order decides which
  // gauge value is the latest.
  shard_->SetStamp(seq);
  self_shard_->SetStamp(seq);
  now_seconds_ = wall_seconds;
  framer_.Feed(lines, *this);
}

void Pipeline::OnTooLong() { Count(LineResult::kTooLong); }

void Pipeline::OnLine(std::string_view line) {
  parser_->Parse(line, record_);
  switch (record_.kind) {
    case LineKind::kRequest:
      Count(LineResult::kRequest);
      batch_.Clear();
      mapper_->Map(record_, now_seconds_, batch_);
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
