#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "llm_log_exporter/parse/record.h"

namespace re2 {
class RE2;
class StringPiece;
}  // namespace re2

namespace lle {

class LiteralSet;

// Text rules: named fields extracted from a text line by an RE2 regex, behind
// a literal that must occur in the line (checked first, so a line that
// matches no rule costs one memmem per rule), then converted from what servers
// print (Go and Rust durations, percentages, HTTP codes) into the values the
// metric rules read, exactly as they read JSON fields.

/// How a captured text becomes a field value. One table (TextConversions)
/// names them for the config and its errors.
enum class Conversion : std::uint8_t {
  kString,      // the text as is
  kNumber,      // a decimal number: 12, -3.5, 1e3 (no inf/nan, no hex)
  kDurationMs,  // a Go or Rust duration (`611.286748ms`, `754.5µs`, `1m2.5s`, `0s`) in ms
  kDurationS,   // the same in seconds
  kPercent,     // `7.4%` or `7.4` → 0.074
  kHttpStatus,  // an HTTP code → "success" (2xx), "timeout" (408, 504), "error" (others)
  kListLength,  // `[1, 2, 3]` → 3, `[]` → 0; anything else (`None`) is no value
};

struct ConversionInfo {
  std::string_view name;  // as written in the config
  Conversion conversion;
  std::string_view help;
};

/// Every conversion, the default (string) first.
const std::vector<ConversionInfo>& TextConversions();

/// Converts `text` (a capture) by `conversion`, scaled by `scale` (numbers
/// only), into `*out`: kNumber or kString, kWrongType for text the
/// conversion cannot read, kOutOfRange beyond double range, kMissing for a
/// list that is not one (`None`). A kString result views `text` or static storage.
void Convert(Conversion conversion, double scale, std::string_view text, FieldValue* out);

/// A JSON field's value converted in place (a config's `requests.fields`):
/// a string as a capture would be, except that kHttpStatus keeps a string
/// that is no HTTP code ("success"); a number scaled, except that kHttpStatus
/// turns an integer code (200) into its status name.
void ConvertJsonValue(Conversion conversion, double scale, FieldValue* value);

/// A field of JSON request lines to convert, and how.
struct FieldConversion {
  int field = -1;
  Conversion conversion = Conversion::kString;
  double scale = 1;
};

/// One named group of a text rule's regex and where its value goes.
struct TextCapture {
  std::uint32_t regex = 0;  // index into TextRule::regexes
  int group = 0;            // group number in that regex
  int field = -1;           // index into the rule set's fields (Record::fields)
  Conversion conversion = Conversion::kString;
  double scale = 1;
};

/// A field a text rule sets to a constant whenever it matches.
struct TextConstant {
  int field = -1;
  std::string text;  // when !is_number
  bool is_number = false;
  double number = 0;
};

/// A field a text rule computes from two of its own: `dividend / divisor`
/// (when both are numbers and the divisor is > 0), rounded to a whole
/// number if asked. TGI logs inference_time and time_per_token (their integer
/// quotient): the generated tokens are their ratio, rounded.
struct TextQuotient {
  int field = -1;
  int dividend = -1;
  int divisor = -1;
  bool round = false;
};

class RegexPlan;

/// One regex of a text rule.
struct TextRegex {
  std::shared_ptr<const re2::RE2> re;
  /// Text every match starts with (RegexLiteralPrefix), or empty. The regex
  /// is then tried anchored where it occurs, which lets RE2 take its one-pass
  /// matcher (at most 4 groups) instead of an unanchored search: 2-3 times
  /// faster on the servers' lines.
  std::string prefix;
  /// The highest group number a capture reads: what a match must fill.
  int groups = 0;
  /// The regex matched without RE2 when its shape allows (src/parse/regex_plan.h),
  /// else null.
  std::shared_ptr<const RegexPlan> plan;
  /// Where the prefix's two rarest bytes are, which its search compares first
  /// (any two positions find the same matches).
  std::size_t prefix_rare[2] = {0, 1};
};

/// The TextRegex of `re`, compiled from `pattern`: its literal prefix and plan.
TextRegex MakeTextRegex(std::shared_ptr<const re2::RE2> re, std::string_view pattern);

/// The literal text every match of `pattern` begins with: its leading
/// characters up to the first regex operator (escaped punctuation counts as
/// the character; a character a quantifier follows does not). Empty when the
/// pattern starts with an operator, a flag group or has a top-level `|`.
std::string RegexLiteralPrefix(std::string_view pattern);

/// A compiled text rule. An immutable value, shared between threads.
struct TextRule {
  std::string name;
  std::string literal;  // must occur in the line (non-empty)
  /// Searched anywhere in the line: the first must match for the rule to
  /// fire; each later one (`also:`) adds its groups where it matches too, so
  /// fields printed in any order (key=value lists) need no single regex.
  std::vector<TextRegex> regexes;
  std::vector<TextCapture> captures;    // by regex, then group
  std::vector<TextConstant> constants;  // set first; a capture of the same field wins
  std::vector<TextQuotient> quotients;  // computed last, from the captures
  /// Which metric rules its matches feed: 0 for request lines (`record:
  /// request`, the default), else the index of its record name.
  std::uint32_t record = 0;
};

/// Runs text rules over lines. Owns scratch space for the regex groups: one
/// per thread, not thread-safe. The rules must outlive it.
class TextMatcher {
 public:
  explicit TextMatcher(const std::vector<TextRule>* rules);
  ~TextMatcher();
  TextMatcher(const TextMatcher&) = delete;
  TextMatcher& operator=(const TextMatcher&) = delete;

  bool empty() const { return rules_->empty(); }

  /// For each rule whose literal occurs in `line` and whose regex matches,
  /// in rule order: fills `record` (cleared first) with the rule's captures
  /// and constants, calls on_match(rule), and clears `record` again. String
  /// values view `line` or the rule; they live until on_match returns.
  template <typename OnMatch>
  void Match(std::string_view line, Record& record, OnMatch&& on_match) {
    const std::uint64_t found = FindLiterals(line);
    if (found == 0 && !many_literals_) return;
    const auto try_rule = [&](std::size_t i) {
      record.Clear();
      if (!Fill(i, line, record)) return;
      on_match((*rules_)[i]);
      record.Clear();
    };
    if (!rules_by_literal_.empty()) {
      // At most 64 rules and literals: the rules of the literals found, in order.
      std::uint64_t rules = 0;
      for (std::uint64_t f = found; f != 0; f &= f - 1) {
        rules |= rules_by_literal_[__builtin_ctzll(f)];
      }
      for (; rules != 0; rules &= rules - 1) try_rule(__builtin_ctzll(rules));
      return;
    }
    for (std::size_t i = 0; i < rules_->size(); ++i) {
      if (HasLiteral(i, found, line)) try_rule(i);
    }
  }

 private:
  // The rules' distinct literals found in `line` (LiteralSet::Find).
  std::uint64_t FindLiterals(std::string_view line) const;
  bool HasLiteral(std::size_t rule, std::uint64_t found, std::string_view line) const;
  bool Fill(std::size_t rule, std::string_view line, Record& record);
  // Searches `regex` in `line`, its first `groups` groups into groups_.
  bool Search(const TextRegex& regex, std::string_view line);

  const std::vector<TextRule>* rules_;
  std::unique_ptr<LiteralSet> literals_;        // the rules' distinct literals
  std::vector<std::size_t> literal_;            // per rule: its literal's index in literals_
  bool many_literals_ = false;                  // over 64: some are searched one by one
  // Per literal: bit i for each rule i that it guards; empty if over 64 of either.
  std::vector<std::uint64_t> rules_by_literal_;
  std::unique_ptr<re2::StringPiece[]> groups_;  // scratch for the largest rule's groups
};

}  // namespace lle
