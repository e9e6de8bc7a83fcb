#include "llm_log_exporter/map/mapper.h"

#include <re2/re2.h>

#include <utility>

namespace lle {
namespace {

const char* const kReasonNames[] = {"missing", "wrong_type", "out_of_range", "negative"};

bool Equals(const Condition& c, const FieldValue& v) {
  if (v.state == FieldState::kString) return !c.has_number && v.text == c.text;
  return v.state == FieldState::kNumber && c.has_number && v.number == c.number;
}

}  // namespace

Mapper::Mapper(RuleSet rules, std::uint32_t first_metric)
    : rules_(std::move(rules)), first_metric_(first_metric) {
  specs_ = rules_.metrics;
  std::vector<Use> use(rules_.fields.size(), Use::kFilter);
  for (const MetricRule& rule : rules_.rules) {
    for (const LabelSource& label : rule.labels) {
      if (label.field >= 0 && use[label.field] == Use::kFilter) use[label.field] = Use::kLabel;
    }
    if (rule.field >= 0) use[rule.field] = Use::kNumber;
    if (rule.divisor_field >= 0) use[rule.divisor_field] = Use::kNumber;
    const auto index = static_cast<std::uint32_t>(&rule - rules_.rules.data());
    switch (rule.signal) {
      case Signal::kRequest: {
        const RequestRule r{&rule,
                            first_metric_ + rule.metric,
                            static_cast<std::uint32_t>(request_rules_.size()),
                            rule.source,
                            specs_.at(rule.metric).type == MetricType::kCounter,
                            !rule.conditions.empty(),
                            rule.scale != 1 || rule.divide_by != 1,
                            rule.field,
                            rule.divisor_field,
                            rule.scale,
                            rule.divide_by};
        const bool plain = r.source == ValueSource::kField && !r.filtered && rule.labels.empty();
        request_rules_.insert(
            request_rules_.begin() + (plain ? num_plain_++ : request_rules_.size()), r);
        break;
      }
      case Signal::kLogLevel:
        level_rules_.push_back(index);
        break;
      case Signal::kException:
        exception_rules_.push_back(index);
        break;
      case Signal::kVllmStats:
        stats_rules_.push_back(index);
        break;
      case Signal::kSensitive:
        sensitive_rules_.push_back(index);
        break;
      case Signal::kSystemPrompt:
        prompt_rules_.push_back(index);
        break;
      case Signal::kSystemPromptChange:
        prompt_change_rules_.push_back(index);
        break;
    }
  }
  // Only fields read as values or labels are checked: a field that only a
  // filter looks at may well be absent.
  std::vector<std::string> checked;
  for (std::size_t f = 0; f < rules_.fields.size(); ++f) {
    checked_.push_back(static_cast<std::uint32_t>(checked.size()));
    if (use[f] == Use::kFilter) continue;
    checked.push_back(rules_.fields[f]);
    checked_fields_.push_back({static_cast<int>(f), use[f]});
  }
  MetricSpec errors;
  errors.name = "llm_log_exporter_field_errors_total";
  errors.help = "Fields of request lines that could not be used, by field and reason";
  errors.type = MetricType::kCounter;
  if (!checked.empty()) {
    errors.labels = {FixedLabel("field", std::move(checked)),
                     FixedLabel("reason", {std::begin(kReasonNames), std::end(kReasonNames)})};
  }
  field_errors_metric_ = first_metric_ + static_cast<std::uint32_t>(specs_.size());
  specs_.push_back(std::move(errors));
}

void Mapper::FieldError(int field, Reason reason, UpdateBatch& out) const {
  out.Add({field_errors_metric_, checked_[field] * kNumReasons + reason, 1, {}});
}

bool Mapper::HasValue(const RequestRule& r, const FieldValue& value, UpdateBatch& out,
                      std::size_t* size) const {
  if (value.state != FieldState::kNumber) return false;
  if (!r.counter || value.number >= 0) return true;
  out.size = *size;  // a counter never goes down: the value is a field error
  FieldError(r.field, kNegative, out);
  *size = out.size;
  return false;
}

bool Mapper::Matches(const MetricRule& rule, const Record& record) const {
  for (const Condition& c : rule.conditions) {
    const FieldValue& v = record.fields[c.field];
    bool ok = false;
    switch (c.op) {
      case Condition::Op::kEquals:
        ok = Equals(c, v);
        break;
      case Condition::Op::kNotEquals:
        ok = !Equals(c, v);
        break;
      case Condition::Op::kExists:
        ok = v.state != FieldState::kMissing;
        break;
      case Condition::Op::kAbsent:
        ok = v.state == FieldState::kMissing;
        break;
      case Condition::Op::kRegex:
        ok = v.state == FieldState::kString &&
             re2::RE2::FullMatch(re2::StringPiece(v.text.data(), v.text.size()), *c.regex);
        break;
    }
    if (!ok) return false;
  }
  return true;
}

std::vector<std::uint32_t> Mapper::DirectMetrics() const {
  std::vector<std::uint32_t> metrics(request_rules_.size());
  for (const RequestRule& r : request_rules_) {
    metrics[r.direct] = r.rule->labels.empty() ? r.metric : kNoMetric;
  }
  return metrics;
}

void Mapper::Map(const Record& record, double now_seconds, UpdateBatch& out,
                 DirectValues* direct) const {
  // Each unusable field counts once per line, however many rules read it.
  for (const CheckedField& checked : checked_fields_) {
    const FieldState state = record.fields[checked.field].state;
    if (state == FieldState::kMissing) {
      // A missing label field takes the label's default, which the metric shows.
      if (checked.use == Use::kNumber) FieldError(checked.field, kMissing, out);
    } else if (state == FieldState::kOutOfRange) {
      FieldError(checked.field, kOutOfRange, out);
    } else if (checked.use == Use::kNumber ? state != FieldState::kNumber
                                           : state != FieldState::kString) {
      FieldError(checked.field, kWrongType, out);
    }
  }
  // The batch's size is kept in a local: stores into `out` could alias the
  // record's doubles as far as the compiler knows, so it would reload
  // out.size around every update.
  std::size_t size = out.size;
  // x × 1 / 1 is x exactly: most rules have no scale, and skip the division.
  const auto scaled = [](const RequestRule& r, double x) {
    return r.scaled ? x * r.scale / r.divide_by : x;
  };
  const auto set_direct = [direct](const RequestRule& r, double x) {
    direct->value[r.direct] = x;
    direct->fired |= std::uint64_t{1} << r.direct;
  };
  std::size_t first = 0;
  if (direct != nullptr) {
    direct->fired = 0;
    // Plain rules: the general loop's kField case without its other checks.
    for (; first < num_plain_; ++first) {
      const RequestRule& r = request_rules_[first];
      const FieldValue& value = record.fields[r.field];
      if (HasValue(r, value, out, &size)) set_direct(r, scaled(r, value.number));
    }
  }
  for (std::size_t k = first; k < request_rules_.size(); ++k) {
    const RequestRule& r = request_rules_[k];
    if (r.filtered && !Matches(*r.rule, record)) continue;
    Update u{r.metric, 0, 1, nullptr};
    const FieldValue* value = r.field >= 0 ? &record.fields[r.field] : nullptr;
    const bool number = value != nullptr && value->state == FieldState::kNumber;
    switch (r.source) {
      case ValueSource::kOne:
        break;
      case ValueSource::kField:
        if (value == nullptr || !HasValue(r, *value, out, &size)) continue;
        u.value = scaled(r, value->number);
        break;
      case ValueSource::kRatio: {
        const FieldValue& divisor = record.fields[r.divisor_field];
        if (!number || divisor.state != FieldState::kNumber || !(divisor.number > 0)) continue;
        u.value = scaled(r, value->number / divisor.number);
        break;
      }
      case ValueSource::kSum: {
        const FieldValue& term = record.fields[r.divisor_field];
        if (!number || term.state != FieldState::kNumber) continue;
        u.value = scaled(r, value->number + term.number);
        if (r.counter && u.value < 0) continue;
        break;
      }
      case ValueSource::kReadTime:
        u.value = now_seconds;
        break;
    }
    const std::vector<LabelSource>& label_sources = r.rule->labels;
    if (direct != nullptr && label_sources.empty()) {
      set_direct(r, u.value);
      continue;
    }
    if (!label_sources.empty()) {
      if (out.label_size + label_sources.size() > UpdateBatch::kMaxLabelValues) continue;
      std::string_view* labels = out.label_values + out.label_size;
      out.label_size += label_sources.size();
      for (std::size_t l = 0; l < label_sources.size(); ++l) {
        const FieldValue& label = record.fields[label_sources[l].field];
        // An empty label value is the same as no label to Prometheus: use the default.
        labels[l] = label.state == FieldState::kString && !label.text.empty()
                        ? label.text
                        : std::string_view(label_sources[l].default_value);
      }
      u.series = kDynamicSeries;
      u.labels = labels;
    }
    if (size < kMaxUpdatesPerLine) out.items[size++] = u;
  }
  out.size = size;
}

LogLevel Mapper::JsonLevel(const Record& record) const {
  for (const int f : rules_.level_fields) {
    const FieldValue& v = record.fields[f];
    if (v.state != FieldState::kString) continue;
    const LogLevel level = LevelFromName(v.text);
    if (level != LogLevel::kNone) return level;
  }
  return LogLevel::kNone;
}

void Mapper::MapLevel(LogLevel level, UpdateBatch& out) const {
  if (level == LogLevel::kNone) return;
  // The `level` label's values are debug … critical: LogLevel's order after kNone.
  const auto series = static_cast<std::uint32_t>(level) - 1;
  for (const std::uint32_t r : level_rules_) {
    out.Add({first_metric_ + rules_.rules[r].metric, series, 1, nullptr});
  }
}

void Mapper::MapException(std::string_view type, UpdateBatch& out) const {
  for (const std::uint32_t r : exception_rules_) {
    if (out.label_size + 1 > UpdateBatch::kMaxLabelValues) return;
    std::string_view* label = out.label_values + out.label_size++;
    *label = type;
    out.Add({first_metric_ + rules_.rules[r].metric, kDynamicSeries, 1, label});
  }
}

void Mapper::MapStats(const VllmStats& stats, UpdateBatch& out) const {
  for (const std::uint32_t r : stats_rules_) {
    const MetricRule& rule = rules_.rules[r];
    const std::optional<double>* value = nullptr;
    switch (rule.stat) {
      case VllmStat::kRunning:
        value = &stats.running;
        break;
      case VllmStat::kWaiting:
        value = &stats.waiting;
        break;
      case VllmStat::kSwapped:
        value = &stats.swapped;
        break;
      case VllmStat::kGpuKvCacheUsage:
        value = &stats.gpu_kv_cache_usage_ratio;
        break;
      case VllmStat::kCpuKvCacheUsage:
        value = &stats.cpu_kv_cache_usage_ratio;
        break;
      case VllmStat::kPrefixCacheHit:
        value = &stats.prefix_cache_hit_ratio;
        break;
      case VllmStat::kPromptThroughput:
        value = &stats.prompt_throughput;
        break;
      case VllmStat::kGenerationThroughput:
        value = &stats.generation_throughput;
        break;
    }
    if (value != nullptr && value->has_value()) {
      out.Add({first_metric_ + rule.metric, 0, **value, nullptr});
    }
  }
}

void Mapper::MapSensitive(SensitiveKinds kinds, UpdateBatch& out) const {
  for (std::size_t kind = 0; kind < kNumSensitiveKinds; ++kind) {
    if ((kinds & (1u << kind)) == 0) continue;
    for (const std::uint32_t r : sensitive_rules_) {
      out.Add(
          {first_metric_ + rules_.rules[r].metric, static_cast<std::uint32_t>(kind), 1, nullptr});
    }
  }
}

std::string_view Mapper::PromptHash(const Record& record, char (&buffer)[16]) const {
  if (rules_.prompt_hash_field >= 0) {
    const FieldValue& given = record.fields[rules_.prompt_hash_field];
    if (given.state == FieldState::kString && !given.text.empty()) return given.text;
  }
  if (rules_.prompt_field < 0) return {};
  const FieldValue& prompt = record.fields[rules_.prompt_field];
  if (prompt.state != FieldState::kString) return {};
  // FNV-1a: enough to tell prompts apart; the prompt itself is never kept.
  std::uint64_t h = 14695981039346656037ull;
  for (const char c : prompt.text) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i, h >>= 4) buffer[i] = kHex[h & 0xf];
  return {buffer, sizeof buffer};
}

void Mapper::MapSystemPrompt(const std::string_view& hash, bool changed, UpdateBatch& out) const {
  for (const std::uint32_t r : prompt_rules_) {
    out.Add({first_metric_ + rules_.rules[r].metric, kDynamicSeries, 1, &hash});
  }
  if (!changed) return;
  for (const std::uint32_t r : prompt_change_rules_) {
    out.Add({first_metric_ + rules_.rules[r].metric, 0, 1, nullptr});
  }
}

}  // namespace lle
