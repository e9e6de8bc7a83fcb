#include "llm_log_exporter/map/mapper.h"

#include <utility>

namespace lle {
namespace {

const char* const kReasonNames[] = {"missing", "wrong_type", "out_of_range", "negative"};

}  // namespace

Mapper::Mapper(RuleSet rules, std::uint32_t first_metric)
    : rules_(std::move(rules)), first_metric_(first_metric) {
  specs_ = rules_.metrics;
  field_is_number_.assign(rules_.fields.size(), false);
  for (const MetricRule& rule : rules_.rules) {
    if (rule.field >= 0) field_is_number_[rule.field] = true;
    if (rule.divisor_field >= 0) field_is_number_[rule.divisor_field] = true;
  }
  MetricSpec errors;
  errors.name = "llm_log_exporter_field_errors_total";
  errors.help = "Fields of request lines that could not be used, by field and reason";
  errors.type = MetricType::kCounter;
  errors.label_names = {"field", "reason"};
  for (const std::string& field : rules_.fields) {
    for (const char* reason : kReasonNames) errors.initial_series.push_back({field, reason});
  }
  field_errors_metric_ = first_metric_ + static_cast<std::uint32_t>(specs_.size());
  specs_.push_back(std::move(errors));
}

void Mapper::FieldError(int field, Reason reason, UpdateBatch& out) const {
  out.Add({field_errors_metric_, static_cast<std::uint32_t>(field) * kNumReasons + reason, 1, {}});
}

void Mapper::Map(const Record& record, double now_seconds, UpdateBatch& out) const {
  // Each unusable field counts once per line, however many rules read it.
  for (std::size_t f = 0; f < rules_.fields.size(); ++f) {
    const FieldState state = record.fields[f].state;
    const int field = static_cast<int>(f);
    if (state == FieldState::kMissing) {
      FieldError(field, kMissing, out);
    } else if (state == FieldState::kOutOfRange) {
      FieldError(field, kOutOfRange, out);
    } else if (field_is_number_[f] ? state != FieldState::kNumber : state != FieldState::kString) {
      FieldError(field, kWrongType, out);
    }
  }
  for (const MetricRule& rule : rules_.rules) {
    Update u{first_metric_ + rule.metric, 0, 0, {}};
    const FieldValue* value = rule.field >= 0 ? &record.fields[rule.field] : nullptr;
    const bool number = value != nullptr && value->state == FieldState::kNumber;
    switch (rule.kind) {
      case RuleKind::kCountLine: {
        const FieldValue& label = record.fields[rule.label_field];
        u.series = kDynamicSeries;
        // An empty label value is the same as no label to Prometheus: use the default.
        u.label_value = label.state == FieldState::kString && !label.text.empty()
                            ? label.text
                            : std::string_view(rule.label_default);
        u.value = 1;
        break;
      }
      case RuleKind::kAddField:
        if (!number) continue;
        if (value->number < 0) {  // a counter never goes down
          FieldError(rule.field, kNegative, out);
          continue;
        }
        u.value = value->number * rule.scale / rule.divide_by;
        break;
      case RuleKind::kObserveField:
      case RuleKind::kSetField:
        if (!number) continue;
        u.value = value->number * rule.scale / rule.divide_by;
        break;
      case RuleKind::kObserveRatio: {
        const FieldValue& divisor = record.fields[rule.divisor_field];
        if (!number || divisor.state != FieldState::kNumber || !(divisor.number > 0)) continue;
        u.value = value->number / divisor.number * rule.scale / rule.divide_by;
        break;
      }
      case RuleKind::kSetLineTime:
        u.value = now_seconds;
        break;
    }
    out.Add(u);
  }
}

}  // namespace lle
