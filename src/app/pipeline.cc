#include "llm_log_exporter/app/pipeline.h"

#include <algorithm>
#include <cmath>
#include <shared_mutex>

namespace lle {

Pipeline::Pipeline(Exporter& exporter, std::size_t source, std::size_t max_line_bytes)
    : exporter_(exporter),
      self_(exporter.self()),
      source_(source),
      self_shard_(exporter.self_store().AddShard()),
      framer_(max_line_bytes) {
  exporter.AddWriter();
  std::shared_lock<ReloadGate> lock(exporter.gate());
  Follow(exporter.generation());
}

void Pipeline::Follow(const std::shared_ptr<Generation>& generation) {
  generation_ = generation;
  shard_ = generation->store.AddShard();
  const RuleSet& rules = generation->mapper.Rules();
  parser_ = std::make_unique<LineParser>(rules.fields, rules.request_keys);
  text_ = std::make_unique<TextMatcher>(&rules.text_rules);
  exemplar_fields_ = 0;
  for (const RuleSet::ExemplarField& f : rules.exemplar_fields) {
    exemplar_fields_ |= std::uint64_t{1} << f.field;
  }
  sample_rate_fields_ = 0;
  for (const int field : rules.sample_rate_fields) sample_rate_fields_ |= std::uint64_t{1} << field;
  bound_.clear();
  for (const std::uint32_t metric : generation->mapper.DirectMetrics()) {
    bound_.push_back(metric == Mapper::kNoMetric ? BoundSeries{} : shard_->Bind(metric, 0));
  }
}

void Pipeline::Feed(std::string_view lines, std::uint64_t seq, double wall_seconds) {
  // A reload waits for the chunk being worked, so each chunk is worked whole
  // by one generation's rules.
  std::shared_lock<ReloadGate> lock(exporter_.gate());
  if (exporter_.generation() != generation_) Follow(exporter_.generation());
  // Workers may finish chunks out of order: the read order decides which
  // gauge value is the latest.
  chunk_seq_ = seq;
  line_in_chunk_ = 0;
  self_shard_->SetStamp(seq);
  now_seconds_ = wall_seconds;
  framer_.Feed(lines, *this);
  CountTallies();
  EndPrompts(seq);
  // The input paused here: a traceback whose exception line came is complete.
  if (generation_->mapper.wants_exceptions()) EndTraceback(tracker_.Flush());
}

void Pipeline::CountTallies() {
  for (std::size_t r = 0; r < static_cast<std::size_t>(LineResult::kNumResults); ++r) {
    if (tally_[r] == 0) continue;
    self_shard_->Apply(self_.Line(source_, static_cast<LineResult>(r), tally_[r]));
    tally_[r] = 0;
  }
}

void Pipeline::OnTooLong() { Count(LineResult::kTooLong); }

void Pipeline::OnLine(std::string_view raw, bool cr) {
  const Mapper& mapper = generation_->mapper;
  // The line as the server wrote it: no ANSI codes, no deployment wrapper
  // (docker compose, journald, ...), for every stage below.
  const std::string_view line = Unwrap(raw, unwrap_scratch_);
  // Orders gauge writes line by line, also across workers: the chunk's place
  // in the input, then the line's in the chunk.
  const std::uint64_t stamp =
      chunk_seq_ << 24 | std::min<std::uint64_t>(line_in_chunk_++, (1u << 24) - 1);
  shard_->SetStamp(stamp);
  batch_.Clear();
  // Text signals first: a traceback is followed across every line, JSON too.
  bool in_traceback = false;
  if (mapper.wants_exceptions()) {
    const TracebackTracker::Result traceback = tracker_.Feed(line, cr);
    if (traceback.finished) mapper.MapException(traceback.type, batch_);
    in_traceback = traceback.in_block;
  }
  if (mapper.wants_sensitive()) {
    if (const SensitiveKinds kinds = ScanSensitive(line)) mapper.MapSensitive(kinds, batch_);
  }
  parser_->Parse(line, record_);
  if (record_.kind == LineKind::kRequest) {
    for (const FieldConversion& c : mapper.Rules().request_conversions) {
      FieldValue value = record_.Get(c.field);
      ConvertJsonValue(c.conversion, c.scale, &value);
      record_.Set(c.field, value);
    }
    // A health check's JSON access line, say, is no request.
    if (!mapper.IsRequest(record_)) record_.kind = LineKind::kEvent;
  }
  switch (record_.kind) {
    case LineKind::kRequest: {
      Count(LineResult::kRequest);
      MapRequest(record_, false);
      if (mapper.wants_system_prompt()) {
        prompt_hash_ = mapper.PromptHash(record_, prompt_buffer_);
        if (!prompt_hash_.empty()) {
          mapper.MapSystemPrompt(prompt_hash_, batch_);
          if (first_prompt_.empty()) first_prompt_.assign(prompt_hash_);
          if (prompt_hash_ != last_prompt_) {
            if (!last_prompt_.empty()) ++prompt_changes_;
            last_prompt_.assign(prompt_hash_);
          }
        }
      }
      if (mapper.wants_levels()) mapper.MapLevel(mapper.JsonLevel(record_), batch_);
      break;
    }
    case LineKind::kEvent:
      // TGI's --json-output `Success` event, say, is a request by a text rule.
      Count(MatchText(line) ? LineResult::kRequest : LineResult::kEvent);
      if (mapper.wants_levels()) mapper.MapLevel(mapper.JsonLevel(record_), batch_);
      break;
    case LineKind::kNotJson:
      // A traceback's lines are its exception, not log events of their own.
      if (in_traceback) {
        Count(LineResult::kNotJson);
        break;
      }
      Count(MatchText(line) ? LineResult::kRequest : LineResult::kNotJson);
      if (mapper.wants_levels()) mapper.MapLevel(ClassifyLevel(line), batch_);
      break;
    case LineKind::kInvalidUtf8:
      Count(LineResult::kInvalidUtf8);
      break;
  }
  ApplyBatch();
}

bool Pipeline::MatchText(std::string_view line) {
  if (text_->empty()) return false;
  const Mapper& mapper = generation_->mapper;
  bool request = false;
  text_->Match(line, text_record_, [&](const TextRule& rule) {
    if (rule.record != kRequestRecord) {
      mapper.Map(text_record_, rule.record, true, now_seconds_, batch_);
      return;
    }
    request = true;
    MapRequest(text_record_, true);
  });
  return request;
}

void Pipeline::MapRequest(const Record& record, bool from_text) {
  const std::uint64_t times =
      (record.present() & sample_rate_fields_) != 0 ? SampledTimes(record) : 1;
  if (exemplar_from_ == kNoExemplar && (record.strings() & exemplar_fields_) != 0 &&
      FindExemplar(record)) {
    exemplar_from_ = batch_.size;
  }
  const std::size_t mapped_from = batch_.size;
  generation_->mapper.Map(record, kRequestRecord, from_text, now_seconds_, batch_, &direct_);
  if (times != 1) {
    ApplySampled(mapped_from, times);
  } else if (exemplar_from_ != kNoExemplar) {
    shard_->Write(bound_.data(), direct_.value, direct_.fired, exemplar_);
  } else {
    shard_->Write(bound_.data(), direct_.value, direct_.fired);
  }
}

void Pipeline::EndPrompts(std::uint64_t seq) {
  // Every chunk reports, so that the tracker can place the next ones.
  const std::uint64_t changes =
      prompt_changes_ + exporter_.prompts().EndChunk(seq, first_prompt_, last_prompt_);
  first_prompt_.clear();
  last_prompt_.clear();
  prompt_changes_ = 0;
  if (changes == 0) return;
  batch_.Clear();
  generation_->mapper.MapPromptChanges(changes, batch_);
  ApplyBatch();
}

void Pipeline::ApplyBatch() {
  if (exemplar_from_ == kNoExemplar) {
    shard_->Apply(batch_.items, batch_.size);
  } else {
    shard_->Apply(batch_.items, exemplar_from_);
    shard_->Apply(batch_.items + exemplar_from_, batch_.size - exemplar_from_, exemplar_);
    exemplar_from_ = kNoExemplar;
  }
  batch_.Clear();
}

void Pipeline::ApplySampled(std::size_t from, std::uint64_t times) {
  const ExemplarRef* exemplar = exemplar_from_ != kNoExemplar ? &exemplar_ : nullptr;
  shard_->Write(bound_.data(), direct_.value, direct_.fired, exemplar, times);
  // Field errors count lines, not the requests a line stands for: they stay
  // in the batch.
  const std::uint32_t field_errors = generation_->mapper.field_errors_metric();
  std::size_t kept = from;
  for (std::size_t i = from; i < batch_.size; ++i) {
    const Update& update = batch_.items[i];
    if (update.metric == field_errors) {
      batch_.items[kept++] = update;
    } else {
      shard_->Apply(&update, 1, exemplar, times);
    }
  }
  batch_.size = kept;
}

std::uint64_t Pipeline::SampledTimes(const Record& record) {
  const Mapper& mapper = generation_->mapper;
  for (const int field : mapper.Rules().sample_rate_fields) {
    const FieldValue& value = record.Get(field);
    if (value.state == FieldState::kMissing) continue;
    const bool number = value.state == FieldState::kNumber;
    if (!number || !(value.number >= kMinSampleRate && value.number <= 1)) {
      mapper.MapUnusableField(field, number || value.state == FieldState::kOutOfRange, batch_);
      return 1;
    }
    const double times = 1 / value.number;
    const double whole = std::floor(times);
    // 1/0.1 and the like: a whole number but for the rate's rounding.
    if (times - whole <= 1e-9 * times) return static_cast<std::uint64_t>(whole);
    if (whole + 1 - times <= 1e-9 * times) return static_cast<std::uint64_t>(whole) + 1;
    // Else rounded up with the probability of the fraction (splitmix64): the
    // expected count is 1/rate, and counts stay whole numbers.
    std::uint64_t z = (random_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    const double uniform = static_cast<double>(z >> 11) * 0x1p-53;
    return static_cast<std::uint64_t>(whole) + (uniform < times - whole ? 1 : 0);
  }
  return 1;
}

bool Pipeline::FindExemplar(const Record& record) {
  const Mapper& mapper = generation_->mapper;
  for (const RuleSet::ExemplarField& f : mapper.Rules().exemplar_fields) {
    const FieldValue& value = record.Get(f.field);
    if (value.state != FieldState::kString) continue;
    switch (ExemplarFrom(f.label, value.text, now_seconds_, &exemplar_)) {
      case ExemplarCheck::kAbsent:
        break;
      case ExemplarCheck::kUsed:
        return true;
      case ExemplarCheck::kTooLong:
        mapper.MapUnusableField(f.field, true, batch_);
        break;
      case ExemplarCheck::kRefused:
        mapper.MapUnusableField(f.field, false, batch_);
        break;
    }
  }
  return false;
}

void Pipeline::EndTraceback(const TracebackTracker::Result& result) {
  if (!result.finished) return;
  batch_.Clear();
  generation_->mapper.MapException(result.type, batch_);
  ApplyBatch();
}

void Pipeline::Finish() {
  std::shared_lock<ReloadGate> lock(exporter_.gate());
  if (exporter_.generation() != generation_) Follow(exporter_.generation());
  if (generation_->mapper.wants_exceptions()) EndTraceback(tracker_.Finish());
  CountTallies();
}

}  // namespace lle
