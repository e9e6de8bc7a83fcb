#include "llm_log_exporter/map/mapper.h"

#include <re2/re2.h>

#include <algorithm>
#include <atomic>
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
  static std::atomic<std::uint64_t> next_id{1};
  id_ = next_id.fetch_add(1, std::memory_order_relaxed);
  specs_ = rules_.metrics;
  kinds_.resize(rules_.records.size());
  // What each kind's rules read each field as.
  std::vector<std::vector<Use>> use(kinds_.size(),
                                    std::vector<Use>(rules_.fields.size(), Use::kFilter));
  std::vector<std::vector<bool>> required(kinds_.size(),
                                          std::vector<bool>(rules_.fields.size(), false));
  std::vector<bool> checked(rules_.fields.size(), false);
  for (const MetricRule& rule : rules_.rules) {
    const auto index = static_cast<std::uint32_t>(&rule - rules_.rules.data());
    switch (rule.signal) {
      case Signal::kRecord: {
        std::vector<Use>& u = use.at(rule.record);
        for (const LabelSource& label : rule.labels) {
          if (label.field >= 0 && u[label.field] == Use::kFilter) u[label.field] = Use::kLabel;
        }
        for (const int f : {rule.field, rule.divisor_field}) {
          if (f < 0) continue;
          u[f] = Use::kNumber;
          const bool optional = std::any_of(
              rule.conditions.begin(), rule.conditions.end(),
              [f](const Condition& c) { return c.field == f && c.op == Condition::Op::kExists; });
          if (!optional) required[rule.record][f] = true;
        }
        Kind& kind = kinds_[rule.record];
        // The fields that must hold numbers for the rule to fire.
        std::uint64_t needs = 0;
        if (rule.field >= 0) needs |= std::uint64_t{1} << rule.field;
        if (rule.divisor_field >= 0 &&
            (rule.source == ValueSource::kRatio || rule.source == ValueSource::kSum)) {
          needs |= std::uint64_t{1} << rule.divisor_field;
        }
        // `exists` conditions are told from the record's masks; the others
        // are matched one by one.
        std::uint64_t exists = 0;
        std::uint64_t absent = 0;
        std::vector<Condition> conditions;
        for (const Condition& c : rule.conditions) {
          if (c.op == Condition::Op::kExists) {
            exists |= std::uint64_t{1} << c.field;
          } else if (c.op == Condition::Op::kAbsent) {
            absent |= std::uint64_t{1} << c.field;
          } else {
            conditions.push_back(c);
          }
        }
        RequestRule r{&rule,
                      first_metric_ + rule.metric,
                      static_cast<std::uint32_t>(kind.rules.size()),
                      needs,
                      exists,
                      absent,
                      rule.source,
                      specs_.at(rule.metric).type == MetricType::kCounter,
                      !conditions.empty(),
                      rule.scale != 1 || rule.divide_by != 1,
                      rule.field,
                      rule.divisor_field,
                      rule.scale,
                      rule.divide_by,
                      std::move(conditions)};
        const bool plain =
            r.source == ValueSource::kField && rule.conditions.empty() && rule.labels.empty();
        kind.rules.insert(kind.rules.begin() + (plain ? kind.num_plain++ : kind.rules.size()),
                          std::move(r));
        break;
      }
      case Signal::kLogLevel:
        level_rules_.push_back(index);
        break;
      case Signal::kException:
        exception_rules_.push_back(index);
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
  for (std::size_t k = 0; k < kinds_.size(); ++k) {
    for (std::size_t f = 0; f < rules_.fields.size(); ++f) {
      if (use[k][f] == Use::kFilter) continue;
      const std::uint64_t bit = std::uint64_t{1} << f;
      (use[k][f] == Use::kNumber ? kinds_[k].number_use : kinds_[k].label_use) |= bit;
      if (required[k][f]) kinds_[k].required |= bit;
      checked[f] = true;
    }
  }
  std::vector<std::string> names;
  for (std::size_t f = 0; f < rules_.fields.size(); ++f) {
    checked_.push_back(static_cast<std::uint32_t>(names.size()));
    if (checked[f]) names.push_back(rules_.fields[f]);
  }
  MetricSpec errors;
  errors.name = "llm_log_exporter_field_errors_total";
  errors.help = "Fields of request lines that could not be used, by field and reason";
  errors.type = MetricType::kCounter;
  if (!names.empty()) {
    // Exemplar and sample-rate fields that no rule reads get their series
    // once an error counts.
    std::vector<bool> extra(rules_.fields.size(), false);
    for (const RuleSet::ExemplarField& e : rules_.exemplar_fields) {
      extra[e.field] = !checked[e.field];
    }
    for (const int field : rules_.sample_rate_fields) extra[field] = !checked[field];
    const auto num_extra = static_cast<std::size_t>(std::count(extra.begin(), extra.end(), true));
    errors.labels = {FixedLabel("field", std::move(names)),
                     FixedLabel("reason", {std::begin(kReasonNames), std::end(kReasonNames)})};
    errors.labels[0].max_values += num_extra;
  }
  is_checked_ = std::move(checked);
  field_errors_metric_ = first_metric_ + static_cast<std::uint32_t>(specs_.size());
  specs_.push_back(std::move(errors));
}

void Mapper::FieldError(int field, Reason reason, UpdateBatch& out) const {
  out.Add({field_errors_metric_, checked_[field] * kNumReasons + reason, 1, {}});
}

bool Mapper::HasValue(const RequestRule& r, const FieldValue& value, UpdateBatch& out,
                      std::size_t* size) const {
  if (!r.counter || value.number >= 0) return true;
  out.size = *size;  // a counter never goes down: the value is a field error
  FieldError(r.field, kNegative, out);
  *size = out.size;
  return false;
}

bool Mapper::Matches(const std::vector<Condition>& conditions, const Record& record) {
  for (const Condition& c : conditions) {
    const FieldValue& v = record.Get(c.field);
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
      case Condition::Op::kNotRegex:
        ok = v.state == FieldState::kString &&
             re2::RE2::FullMatch(re2::StringPiece(v.text.data(), v.text.size()), *c.regex);
        if (c.op == Condition::Op::kNotRegex) ok = !ok;
        break;
      case Condition::Op::kIn:
      case Condition::Op::kNotIn:
        ok = v.state == FieldState::kString &&
             (c.string_lengths >> std::min<std::size_t>(v.text.size(), 63) & 1) != 0 &&
             std::find(c.strings.begin(), c.strings.end(), v.text) != c.strings.end();
        if (c.op == Condition::Op::kNotIn) ok = !ok;
        break;
    }
    if (!ok) return false;
  }
  return true;
}

std::vector<std::uint32_t> Mapper::DirectMetrics() const {
  const std::vector<RequestRule>& rules = kinds_[kRequestRecord].rules;
  std::vector<std::uint32_t> metrics(rules.size());
  for (const RequestRule& r : rules) {
    metrics[r.direct] = r.rule->labels.empty() ? r.metric : kNoMetric;
  }
  return metrics;
}

void Mapper::Map(const Record& record, std::uint32_t kind_index, bool from_text, double now_seconds,
                 UpdateBatch& out, DirectValues* direct) const {
  const Kind& kind = kinds_[kind_index];
  const std::uint64_t numbers = record.numbers();
  // Each unusable field counts once per line, however many rules read it:
  // a value that is no number, a label that is no string, and the absence of
  // a field some rule requires. A missing label field takes the label's
  // default, which the metric shows; a text line carries only what its rule
  // captures, and misses nothing.
  const std::uint64_t present = record.present();
  std::uint64_t unusable = (kind.number_use & present & ~numbers) |
                           (kind.label_use & present & ~record.strings()) |
                           (from_text ? 0 : kind.required & ~present);
  for (; unusable != 0; unusable &= unusable - 1) {
    const int f = __builtin_ctzll(unusable);
    const FieldState state = record.Get(f).state;
    FieldError(f,
               state == FieldState::kMissing      ? kMissing
               : state == FieldState::kOutOfRange ? kOutOfRange
                                                  : kWrongType,
               out);
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
  // The rules the line's fields let fire: not one whose value fields are no
  // numbers (their errors were counted above), nor one whose `exists`
  // conditions fail. Lines of one server mostly have the same fields, so
  // with `direct` (one per pipeline) the list is worked out once per shape.
  const auto select = [&](std::uint8_t* list) {
    std::uint32_t n = 0;
    for (std::size_t k = 0; k < kind.rules.size(); ++k) {
      const RequestRule& r = kind.rules[k];
      if (((r.needs & ~numbers) | (r.exists & ~present) | (r.absent & present)) == 0) {
        list[n++] = static_cast<std::uint8_t>(k);
      }
    }
    return n;
  };
  std::uint8_t local[kMaxRules];
  const std::uint8_t* candidates = local;
  std::uint32_t num_candidates = 0;
  if (direct != nullptr) {
    direct->fired = 0;
    DirectValues::Shape& shape = direct->shape;
    if (shape.mapper != id_ || shape.kind != kind_index || shape.present != present ||
        shape.numbers != numbers) {
      shape.mapper = id_;
      shape.kind = kind_index;
      shape.present = present;
      shape.numbers = numbers;
      shape.num_rules = select(shape.rules);
    }
    candidates = shape.rules;
    num_candidates = shape.num_rules;
  } else {
    num_candidates = select(local);
  }
  for (std::uint32_t i = 0; i < num_candidates; ++i) {
    const std::size_t k = candidates[i];
    const RequestRule& r = kind.rules[k];
    if (direct != nullptr && k < kind.num_plain) {
      // A plain rule: the kField case below without its other checks.
      const FieldValue& value = record.Get(r.field);
      if (HasValue(r, value, out, &size)) set_direct(r, scaled(r, value.number));
      continue;
    }
    const FieldValue* value = r.field >= 0 ? &record.Get(r.field) : nullptr;
    if (r.filtered && !Matches(r.conditions, record)) continue;
    Update u{r.metric, 0, 1, nullptr};
    switch (r.source) {
      case ValueSource::kOne:
        break;
      case ValueSource::kField:
        if (value == nullptr || !HasValue(r, *value, out, &size)) continue;
        u.value = scaled(r, value->number);
        break;
      case ValueSource::kRatio: {
        const FieldValue& divisor = record.Get(r.divisor_field);
        if (value == nullptr || !(divisor.number > 0)) continue;
        u.value = scaled(r, value->number / divisor.number);
        break;
      }
      case ValueSource::kSum: {
        const FieldValue& term = record.Get(r.divisor_field);
        if (value == nullptr) continue;
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
        const FieldValue& label = record.Get(label_sources[l].field);
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
    const FieldValue& v = record.Get(f);
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
    const FieldValue& given = record.Get(rules_.prompt_hash_field);
    if (given.state == FieldState::kString && !given.text.empty()) return given.text;
  }
  if (rules_.prompt_field < 0) return {};
  const FieldValue& prompt = record.Get(rules_.prompt_field);
  if (prompt.state != FieldState::kString) return {};
  // FNV-1a: enough to tell prompts apart; the prompt itself is never kept.
  std::uint64_t h = 14695981039346656037ull;
  for (const char c : prompt.text) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i, h >>= 4) buffer[i] = kHex[h & 0xf];
  return {buffer, sizeof buffer};
}

void Mapper::MapSystemPrompt(const std::string_view& hash, UpdateBatch& out) const {
  for (const std::uint32_t r : prompt_rules_) {
    out.Add({first_metric_ + rules_.rules[r].metric, kDynamicSeries, 1, &hash});
  }
}

void Mapper::MapUnusableField(int field, bool out_of_range, UpdateBatch& out) const {
  const Reason reason = out_of_range ? kOutOfRange : kWrongType;
  if (is_checked_[field]) {
    FieldError(field, reason, out);
    return;
  }
  if (specs_.back().labels.empty() || out.label_size + 2 > UpdateBatch::kMaxLabelValues) return;
  std::string_view* labels = out.label_values + out.label_size;
  out.label_size += 2;
  labels[0] = rules_.fields[field];
  labels[1] = kReasonNames[reason];
  out.Add({field_errors_metric_, kDynamicSeries, 1, labels});
}

void Mapper::MapPromptChanges(std::uint64_t changes, UpdateBatch& out) const {
  for (const std::uint32_t r : prompt_change_rules_) {
    out.Add({first_metric_ + rules_.rules[r].metric, 0, static_cast<double>(changes), nullptr});
  }
}

}  // namespace lle
