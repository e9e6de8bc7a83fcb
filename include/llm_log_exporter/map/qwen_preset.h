#pragma once

#include "llm_log_exporter/map/metric_rules.h"

namespace lle {

/// The built-in "qwen" preset (DESIGN.md §3): the seed exporter's five series,
/// names and buckets unchanged, plus the base-unit series.
RuleSet QwenPreset();

}  // namespace lle
