#pragma once

#include <string>

#include "llm_log_exporter/map/metric_rules.h"

namespace lle {

/// Builds a RuleSet from a mapping config (YAML; JSON is YAML too), checking
/// all of it first. Returns false with `*error` = "NAME:LINE:COLUMN: KEY: reason"
/// on the first problem; `*out` is then unchanged. `name` names the text in messages.
bool LoadConfigText(const std::string& text, const std::string& name, RuleSet* out,
                    std::string* error);
/// The same for a file; an unreadable file is an error too.
bool LoadConfigFile(const std::string& path, RuleSet* out, std::string* error);

/// --audit.sensitive: counts lines that look like they carry secrets in
/// <namespace>_log_sensitive_lines_total{kind}, unless a rule does already.
void AddSensitiveAudit(RuleSet* rules);

/// The built-in preset: config/qwen.yaml, compiled into the binary, so the
/// shipped file and the default cannot drift apart.
RuleSet QwenPreset();
const char* QwenPresetText();

}  // namespace lle
