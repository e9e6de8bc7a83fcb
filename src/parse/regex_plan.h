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
/// literal text; runs of one ASCII byte class (`[^"]+`, `[0-9.]+`, `\S+`,
/// `[a-z_]*`), each followed by the end or by text whose first byte it cannot
/// take (so a greedy run never has to give bytes back), or by literal text
/// that starts with bytes it takes but holds one it cannot (`\S+: `: it gives
/// back exactly the bytes before that one, `:`); single bytes of a
/// class (`[1-5]`); alternations in groups (`(?:chat/completions|completions)`,
/// `(?P<n>\[[0-9, ]*\]|None)`); optional groups `(?:...)?` that start with
/// literal text; named groups around any of these (nested too); `$` at the
/// end. Only an alternation or an optional group is ever retried, in RE2's
/// order (leftmost-first): the same match and groups as RE2's on valid UTF-8
/// (the text rules' input), several times faster. Anything else (`.`,
/// counted or lazy repeats, anchors elsewhere, non-ASCII, case folding) has
/// no plan. Immutable: safe to share between threads.
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
    enum Kind : std::uint8_t {
      kLiteral,   // `literal`
      kRun,       // bytes of `in_class`, as many as there are (at least one if `at_least_one`)
      kByte,      // one byte of `in_class`
      kAlt,       // the first of `branches` with which the rest matches
      kJump,      // on at `end` (a branch's end)
      kOptional,  // the steps up to `end` if the rest then matches, else none
      kOpen,      // group `group` starts
      kClose,     // group `group` ends
      kEnd,       // the end of the text
    };
    explicit Step(Kind k) : kind(k) {}
    Kind kind;
    std::string literal;
    // kLiteral of at most 32 bytes: its bytes as words, and which bytes count.
    std::uint64_t words[4] = {0, 0, 0, 0};
    std::uint64_t masks[4] = {0, 0, 0, 0};
    std::array<bool, 256> in_class{};
    int stop = -1;                          // kRun: the one byte it does not take, if so
    std::uint8_t give_back = 0;             // kRun: bytes of its end the next literal takes
    // kRun: in_class as nibble tables (SIMD): byte b is in the class when
    // rows[b & 15] (rows[16 + (b & 15)] for b >= 0x80) has bit (b >> 4) % 8.
    alignas(16) std::array<std::uint8_t, 32> rows{};
    bool at_least_one = false;              // kRun: `+` rather than `*`
    int group = 0;                          // kOpen, kClose
    std::vector<std::size_t> branches;  // kAlt: where each starts, in the pattern's order
    std::size_t end = 0;                // kOptional, kAlt, kJump: the index of the step after it
    std::vector<int> groups;            // kOptional, kAlt: the groups inside, unset on retry
  };
  // Matches steps_[s..] at text[p..]; `start` is where the match began.
  bool MatchFrom(std::size_t s, std::string_view text, std::size_t p, std::size_t start,
                 re2::StringPiece* groups, int num_groups) const;
  // Unsets the groups inside `choice` (a kAlt or kOptional) before a retry.
  static void Unset(const Step& choice, re2::StringPiece* groups, int num_groups);
  // Adds to *out the bytes text matched by steps_[s..] can begin with; sets
  // *end if that text can be empty.
  void FirstBytes(std::size_t s, std::array<bool, 256>* out, bool* end) const;

  std::vector<Step> steps_;
  int num_groups_ = 0;
};

}  // namespace lle
