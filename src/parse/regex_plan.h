#pragma once

#include <re2/stringpiece.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace lle {

/// A regex of the shape most server-log rules have, matched without RE2:
/// literal text, runs of one ASCII byte class (`[^"]+`, `[0-9.]+`, `\S+`,
/// `[a-z_]*`) and named groups around them (not nested), where each run is
/// followed by the end or by text whose first byte the run cannot take. A
/// match at a given start is then the only one possible, and one forward
/// scan finds it: the same match and groups as RE2's on valid UTF-8 (the
/// text rules' input), several times faster. Anything else (alternation,
/// optional parts, anchors, `.`, repeated literals, non-ASCII) has no plan.
/// Immutable: safe to share between threads.
class RegexPlan {
 public:
  /// The plan of `pattern`, or null if it has not that shape or does not
  /// begin with literal text (where a match can start is then found by
  /// searching for that text).
  static std::unique_ptr<const RegexPlan> Of(std::string_view pattern);

  /// Whether a match starts at `pos` of `text`; if so, groups[0] is the
  /// match and groups[1..num_groups] the named groups, as RE2::Match fills them.
  bool MatchAt(std::string_view text, std::size_t pos, re2::StringPiece* groups,
               int num_groups) const;
  /// Named groups in the pattern.
  int num_groups() const { return num_groups_; }

 private:
  struct Step {
    enum Kind : std::uint8_t { kLiteral, kRun, kOpen, kClose };
    explicit Step(Kind k) : kind(k) {}
    Kind kind;
    std::string literal;               // kLiteral
    std::array<bool, 256> in_class{};  // kRun: the bytes it takes
    int stop = -1;                     // kRun: the one byte it does not take, if so
    bool at_least_one = false;         // kRun: `+` rather than `*`
    int group = 0;                     // kOpen, kClose
  };
  std::vector<Step> steps_;
  int num_groups_ = 0;
};

}  // namespace lle
