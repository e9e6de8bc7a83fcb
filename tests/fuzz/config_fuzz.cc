// libFuzzer target: the config loader (src/config/config.cc: YAML -> RuleSet,
// validated) and the text rules it builds.
//
// The input is a config file. If it holds a line "#--" (a YAML comment, so
// the config stays valid), what follows is log lines. When the config loads,
// its text rules run over those lines and eight real server lines (from
// tests/golden/server_*/input.log, read from the source tree), and its line
// parser over the same lines. Checks: loading never throws or crashes and a
// refusal says why in one printable line; a loaded rule set is coherent
// (field indices in range); every string value a rule fills views the line, the rule or a static
// status name (http_status); a match leaves the record clear again.

#include <re2/re2.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.h"
#include "llm_log_exporter/config/config.h"
#include "llm_log_exporter/core/read_file.h"
#include "llm_log_exporter/parse/line_parser.h"
#include "llm_log_exporter/parse/text_rule.h"

#ifndef LLE_FUZZ_REPO_DIR
#error "LLE_FUZZ_REPO_DIR must name the source tree"
#endif

namespace {

using lle::fuzz::Check;
using lle::fuzz::Fail;

const std::vector<std::string>& ServerLines() {
  static const std::vector<std::string> lines = [] {
    std::vector<std::string> out;
    for (const char* server : {"vllm", "tgi", "sglang", "llamacpp", "ollama", "lmdeploy"}) {
      std::string text;
      std::string error;
      const std::string path =
          std::string(LLE_FUZZ_REPO_DIR) + "/tests/golden/server_" + server + "/input.log";
      if (!lle::ReadWholeFile(path, lle::kMaxConfigFileBytes, &text, &error))
        Fail("cannot read", path + ": " + error);
      for (const std::string_view line : lle::fuzz::SplitLines(text)) out.emplace_back(line);
    }
    return out;
  }();
  return lines;
}

bool Within(std::string_view inner, std::string_view outer) {
  return inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size();
}

void RunTextRules(const lle::RuleSet& rules, const std::vector<std::string>& lines) {
  lle::TextMatcher matcher(&rules.text_rules);
  lle::LineParser parser(rules.fields, rules.request_keys);
  auto record = std::make_unique<lle::Record>();
  auto parsed = std::make_unique<lle::Record>();
  const std::size_t num_fields = rules.fields.size();
  for (const std::string& raw : lines) {
    const lle::fuzz::PaddedText line(raw);
    parser.Parse(line.view(), *parsed);
    matcher.Match(line.view(), *record, [&](const lle::TextRule& rule) {
      Check(rule.record < rules.records.size(), "a rule's record kind out of range", rule.name);
      for (std::size_t i = 0; i < num_fields && i < lle::kMaxFields; ++i) {
        const lle::FieldValue& value = record->Get(i);
        if (value.state != lle::FieldState::kString) continue;
        bool in_rule = false;
        for (const lle::TextConstant& c : rule.constants) in_rule |= Within(value.text, c.text);
        // http_status conversions give a static status name.
        for (const char* name : {"success", "timeout", "error"}) in_rule |= value.text == name;
        if (!Within(value.text, line.view()) && !in_rule) {
          Fail("a text rule's string value views neither the line nor the rule", rule.name);
        }
      }
    });
    // Match clears what it filled: the next line starts from kMissing.
    for (std::size_t i = 0; i < lle::kMaxFields; ++i) {
      Check(record->Get(i).state == lle::FieldState::kMissing,
            "a text rule left a field filled after the match");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const std::size_t separator = input.find("\n#--\n");
  const std::string config = input.substr(0, separator);
  lle::RuleSet rules;
  std::string error;
  if (!lle::LoadConfigText(config, "fuzz.yaml", &rules, &error)) {
    Check(!error.empty(), "a config refused without a reason");
    std::size_t at = 0;
    Check(!lle::fuzz::HasControlByte(error + "\n", &at) && error.find('\n') == std::string::npos,
          "a refusal that is not one printable line", error);
    return 0;
  }
  Check(rules.fields.size() <= lle::kMaxFields, "more fields than a record holds");
  for (const lle::TextRule& rule : rules.text_rules) {
    Check(!rule.literal.empty(), "a text rule without literal", rule.name);
    Check(!rule.regexes.empty(), "a text rule without regex", rule.name);
    for (const lle::TextCapture& c : rule.captures) {
      Check(c.regex < rule.regexes.size(), "a capture's regex out of range", rule.name);
      Check(c.field >= 0 && static_cast<std::size_t>(c.field) < rules.fields.size(),
            "a capture's field out of range", rule.name);
      Check(c.group >= 1 && c.group <= rule.regexes[c.regex].re->NumberOfCapturingGroups(),
            "a capture's group out of range", rule.name);
    }
    for (const lle::TextConstant& c : rule.constants) {
      Check(c.field >= 0 && static_cast<std::size_t>(c.field) < rules.fields.size(),
            "a constant's field out of range", rule.name);
    }
  }
  std::vector<std::string> lines;
  const std::vector<std::string>& pool = ServerLines();
  for (std::size_t k = 0; k < 8 && !pool.empty(); ++k) {
    lines.push_back(pool[(size * 7919 + k * 104729) % pool.size()]);
  }
  if (separator != std::string::npos) {
    for (const std::string_view line :
         lle::fuzz::SplitLines(std::string_view(input).substr(separator + 5))) {
      lines.emplace_back(line);
    }
  }
  RunTextRules(rules, lines);
  return 0;
}
