#include "regex_plan.h"

#include <algorithm>
#include <cstring>

#include "load.h"
#include "simd_lanes.h"

namespace lle {
namespace {

using ByteClass = std::array<bool, 256>;

bool IsAsciiPunct(char c) {
  return (c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') ||
         (c >= '{' && c <= '~');
}

// RE2's Perl classes \d \s \w and their complements \D \S \W (ASCII).
bool PerlClass(char name, ByteClass* out) {
  ByteClass c{};
  switch (name | 0x20) {
    case 'd':
      for (int b = '0'; b <= '9'; ++b) c[b] = true;
      break;
    case 's':
      for (const char b : {'\t', '\n', '\f', '\r', ' '}) c[static_cast<unsigned char>(b)] = true;
      break;
    case 'w':
      for (int b = 0; b < 128; ++b) {
        c[b] =
            (b >= '0' && b <= '9') || (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || b == '_';
      }
      break;
    default:
      return false;
  }
  if (name >= 'A' && name <= 'Z') {
    for (bool& b : c) b = !b;  // \D \S \W also take every non-ASCII byte, as RE2 does
  }
  *out = c;
  return true;
}

// One member of a bracket class at pattern[*i]: a plain ASCII byte or an
// escaped punctuation character.
bool ClassMember(std::string_view pattern, std::size_t* i, unsigned char* out) {
  if (*i >= pattern.size()) return false;
  char c = pattern[*i];
  if (c == '\\') {
    if (*i + 1 >= pattern.size() || !IsAsciiPunct(pattern[*i + 1])) return false;
    c = pattern[*i + 1];
    *i += 2;
  } else {
    if (c == '[' || static_cast<unsigned char>(c) >= 0x80) return false;  // [[:alpha:]], UTF-8
    ++*i;
  }
  *out = static_cast<unsigned char>(c);
  return true;
}

// The bracket class starting at pattern[*i] ('['); *i ends past its ']'.
bool BracketClass(std::string_view pattern, std::size_t* i, ByteClass* out) {
  ByteClass c{};
  ++*i;
  const bool negate = *i < pattern.size() && pattern[*i] == '^';
  if (negate) ++*i;
  if (*i < pattern.size() && pattern[*i] == ']') return false;  // a literal ']' first: rare
  while (*i < pattern.size() && pattern[*i] != ']') {
    unsigned char lo = 0;
    unsigned char hi = 0;
    if (!ClassMember(pattern, i, &lo)) return false;
    hi = lo;
    if (*i + 1 < pattern.size() && pattern[*i] == '-' && pattern[*i + 1] != ']') {
      ++*i;
      if (!ClassMember(pattern, i, &hi) || hi < lo) return false;
    }
    for (unsigned b = lo; b <= hi; ++b) c[b] = true;
  }
  if (*i >= pattern.size()) return false;
  ++*i;
  if (negate) {
    for (bool& b : c) b = !b;
  }
  *out = c;
  return true;
}

bool IsQuantifier(std::string_view pattern, std::size_t i) {
  return i < pattern.size() && std::strchr("*+?{", pattern[i]) != nullptr;
}

// The index of the ']' that closes the class opened at pattern[i] ('['), or
// the pattern's size: a ']' first (or after '^') is a member, not its end.
std::size_t ClassEnd(std::string_view pattern, std::size_t i) {
  std::size_t j = i + 1;
  if (j < pattern.size() && pattern[j] == '^') ++j;
  if (j < pattern.size() && pattern[j] == ']') ++j;
  while (j < pattern.size() && pattern[j] != ']') j += pattern[j] == '\\' ? 2 : 1;
  return std::min(j, pattern.size());
}

// The index of the ')' that closes the group opened at pattern[i], or npos.
std::size_t GroupEnd(std::string_view pattern, std::size_t i) {
  int depth = 0;
  for (; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\') {
      ++i;
    } else if (c == '[') {
      i = ClassEnd(pattern, i);
    } else if (c == '(') {
      ++depth;
    } else if (c == ')' && --depth == 0) {
      return i;
    }
  }
  return std::string_view::npos;
}

// Whether `contents` (a group's) has a `|` outside its own groups and classes.
bool HasTopLevelBar(std::string_view contents) {
  for (std::size_t i = 0; i < contents.size(); ++i) {
    const char c = contents[i];
    if (c == '|') return true;
    if (c == '\\') {
      ++i;
    } else if (c == '[') {
      i = ClassEnd(contents, i);
    } else if (c == '(') {
      i = GroupEnd(contents, i);
      if (i == std::string_view::npos) return false;
    }
  }
  return false;
}

}  // namespace

std::unique_ptr<const RegexPlan> RegexPlan::Of(std::string_view pattern) {
  constexpr std::size_t npos = std::string_view::npos;
  // Alternations and optional groups are retried: a few only.
  constexpr int kMaxChoices = 4;
  auto plan = std::unique_ptr<RegexPlan>(new RegexPlan());
  std::vector<Step>& steps = plan->steps_;
  // Steps before `sealed` end at a group's edge: text after it is a step of its own.
  std::size_t sealed = 0;
  const auto add_literal = [&steps, &sealed](char c) {
    if (steps.size() <= sealed || steps.back().kind != Step::kLiteral) {
      steps.emplace_back(Step::kLiteral);
    }
    steps.back().literal += c;
  };
  const auto add_group_step = [&steps](Step::Kind kind, int group) {
    steps.emplace_back(kind);
    steps.back().group = group;
  };
  struct Open {
    std::size_t optional;            // its kOptional step, or npos
    int group;                       // its group number, or 0
    std::size_t alt;                 // its kAlt step, or npos
    std::vector<std::size_t> jumps;  // the kJump steps ending its branches
  };
  std::vector<Open> open;
  int choices = 0;
  for (std::size_t i = 0; i < pattern.size();) {
    const char c = pattern[i];
    ByteClass in_class{};
    if (c == '(' || c == ')') sealed = steps.size();
    if (c == '(') {
      const std::size_t close = GroupEnd(pattern, i);
      const bool named = pattern.substr(i, 4) == "(?P<";
      if (close == npos || (!named && pattern.substr(i, 3) != "(?:")) return nullptr;
      std::size_t body = i + 3;
      int group = 0;
      if (named) {
        body = pattern.find('>', i) + 1;
        if (body == 0 || body > close) return nullptr;
        group = ++plan->num_groups_;
      }
      const bool optional = close + 1 < pattern.size() && pattern[close + 1] == '?';
      if (IsQuantifier(pattern, close + 1) && (!optional || IsQuantifier(pattern, close + 2))) {
        return nullptr;  // repeated, or lazy
      }
      Open o{npos, group, npos, {}};
      if (optional) {
        if (++choices > kMaxChoices) return nullptr;
        o.optional = steps.size();
        steps.emplace_back(Step::kOptional);
      }
      if (named) add_group_step(Step::kOpen, group);
      if (HasTopLevelBar(pattern.substr(body, close - body))) {
        if (++choices > kMaxChoices) return nullptr;
        o.alt = steps.size();
        steps.emplace_back(Step::kAlt);
        steps.back().branches.push_back(steps.size());
      }
      open.push_back(std::move(o));
      i = body;
      continue;
    }
    if (c == '|') {
      // Only a group's alternatives (a top-level `|` makes no plan).
      if (open.empty() || open.back().alt == npos) return nullptr;
      open.back().jumps.push_back(steps.size());
      steps.emplace_back(Step::kJump);
      steps[open.back().alt].branches.push_back(steps.size());
      sealed = steps.size();
      ++i;
      continue;
    }
    if (c == ')') {
      if (open.empty()) return nullptr;
      const Open o = std::move(open.back());
      open.pop_back();
      // A choice (an alternation, an optional group) ends here; the groups
      // inside are unset when it is retried.
      const auto end_choice = [&steps](std::size_t at) {
        steps[at].end = steps.size();
        for (std::size_t k = at + 1; k < steps.size(); ++k) {
          if (steps[k].kind == Step::kOpen) steps[at].groups.push_back(steps[k].group);
        }
      };
      if (o.alt != npos) {
        for (const std::size_t jump : o.jumps) steps[jump].end = steps.size();
        end_choice(o.alt);
      }
      if (o.group != 0) add_group_step(Step::kClose, o.group);
      ++i;
      if (o.optional != npos) {
        end_choice(o.optional);
        // It must start with literal text (a group's start aside).
        std::size_t first = o.optional + 1;
        while (first < steps.size() && steps[first].kind == Step::kOpen) ++first;
        if (first == steps.size() || steps[first].kind != Step::kLiteral) return nullptr;
        ++i;  // its '?'
      }
      continue;
    }
    if (c == '$') {
      if (i + 1 != pattern.size() || !open.empty()) return nullptr;
      steps.emplace_back(Step::kEnd);
      ++i;
      continue;
    }
    if (c == '[') {
      if (!BracketClass(pattern, &i, &in_class)) return nullptr;
    } else if (c == '\\') {
      if (i + 1 >= pattern.size()) return nullptr;
      const char e = pattern[i + 1];
      if (IsAsciiPunct(e)) {
        add_literal(e);
        i += 2;
        if (IsQuantifier(pattern, i)) return nullptr;
        continue;
      }
      if (!PerlClass(e, &in_class)) return nullptr;
      i += 2;
    } else {
      if (std::strchr(".*+?|^${}", c) != nullptr || static_cast<unsigned char>(c) >= 0x80) {
        return nullptr;
      }
      add_literal(c);
      ++i;
      if (IsQuantifier(pattern, i)) return nullptr;
      continue;
    }
    // A class: one byte of it, or a greedy run.
    if (i < pattern.size() && (pattern[i] == '+' || pattern[i] == '*')) {
      Step step(Step::kRun);
      step.in_class = in_class;
      step.at_least_one = pattern[i] == '+';
      ++i;
      if (IsQuantifier(pattern, i)) return nullptr;  // lazy, possessive or doubled
      int outside = 0;
      for (int b = 0; b < 256; ++b) {
        if (!in_class[b]) {
          step.stop = b;
          ++outside;
        }
      }
      if (outside != 1) step.stop = -1;
      for (int b = 0; b < 256; ++b) {
        if (in_class[b])
          step.rows[(b & 0x0f) + (b >= 0x80 ? 16 : 0)] |=
              static_cast<std::uint8_t>(1u << (b >> 4) % 8);
      }
      steps.push_back(step);
    } else {
      if (IsQuantifier(pattern, i)) return nullptr;
      steps.emplace_back(Step::kByte);
      steps.back().in_class = in_class;
    }
  }
  if (!open.empty() || steps.empty() || steps.front().kind != Step::kLiteral) return nullptr;
  for (Step& step : steps) {
    if (step.kind != Step::kLiteral || step.literal.size() > 32) continue;
    char bytes[32] = {};
    char ones[32] = {};
    std::memcpy(bytes, step.literal.data(), step.literal.size());
    std::memset(ones, 0xff, step.literal.size());
    for (int w = 0; w < 4; ++w) {
      std::memcpy(&step.words[w], bytes + 8 * w, 8);
      std::memcpy(&step.masks[w], ones + 8 * w, 8);
    }
  }
  // A run never gives bytes back: what follows it cannot begin with a byte it
  // takes. Or else that is literal text (groups aside) with a byte the run
  // cannot take, after k bytes it can: the run ends before that byte, so a
  // match has the literal just k bytes before the run's end, and nowhere else.
  for (std::size_t s = 0; s < steps.size(); ++s) {
    if (steps[s].kind != Step::kRun) continue;
    std::size_t next = s + 1;
    while (next < steps.size() &&
           (steps[next].kind == Step::kOpen || steps[next].kind == Step::kClose)) {
      ++next;
    }
    if (next < steps.size() && steps[next].kind == Step::kLiteral) {
      const std::string& literal = steps[next].literal;
      std::size_t k = 0;
      while (k < literal.size() && steps[s].in_class[static_cast<unsigned char>(literal[k])]) ++k;
      if (k == literal.size() || k > 255) return nullptr;
      steps[s].give_back = static_cast<std::uint8_t>(k);
      continue;
    }
    bool end = false;
    ByteClass after{};
    plan->FirstBytes(s + 1, &after, &end);
    for (int b = 0; b < 256; ++b) {
      if (after[b] && steps[s].in_class[b]) return nullptr;
    }
  }
  return plan;
}

void RegexPlan::FirstBytes(std::size_t s, std::array<bool, 256>* out, bool* end) const {
  for (; s < steps_.size(); ++s) {
    const Step& step = steps_[s];
    switch (step.kind) {
      case Step::kLiteral:
        (*out)[static_cast<unsigned char>(step.literal[0])] = true;
        return;
      case Step::kByte:
      case Step::kRun:
        for (int b = 0; b < 256; ++b) (*out)[b] = (*out)[b] || step.in_class[b];
        if (step.kind == Step::kByte || step.at_least_one) return;
        break;
      case Step::kAlt:
        for (const std::size_t branch : step.branches) FirstBytes(branch, out, end);
        return;
      case Step::kJump:
        s = step.end - 1;
        break;
      case Step::kOptional:
        FirstBytes(s + 1, out, end);  // with it (and what follows)
        s = step.end - 1;             // and without
        break;
      case Step::kOpen:
      case Step::kClose:
        break;
      case Step::kEnd:
        *end = true;
        return;
    }
  }
  *end = true;
}

namespace {

// Whether `step`'s literal is at data + p, with at least its size left.
// Most literals of the servers' rules (`" validation_time="`) are compared as
// two or four masked words where 32 bytes are left: no call.
inline bool LiteralAt(const std::string& literal, const std::uint64_t* words,
                      const std::uint64_t* masks, const char* data, std::size_t left) {
  if (literal.size() <= 32 && left >= 32) {
    std::uint64_t differ =
        ((Load64(data) ^ words[0]) & masks[0]) | ((Load64(data + 8) ^ words[1]) & masks[1]);
    if (literal.size() > 16) {
      differ |=
          ((Load64(data + 16) ^ words[2]) & masks[2]) | ((Load64(data + 24) ^ words[3]) & masks[3]);
    }
    return differ == 0;
  }
  return std::memcmp(data, literal.data(), literal.size()) == 0;
}

// The first `stop` byte from p, or size: the next 32 bytes (most runs, a
// number or a word, end there) compared at once, then memchr.
inline std::size_t StopAt(const char* data, std::size_t p, std::size_t size, char stop) {
#if defined(__AVX2__)
  if (size - p >= 32) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(data + p));
    const auto hits = static_cast<std::uint32_t>(
        _mm256_movemask_epi8(_mm256_cmpeq_epi8(x, _mm256_set1_epi8(stop))));
    if (hits != 0) return p + static_cast<std::size_t>(__builtin_ctz(hits));
    p += 32;
  }
#endif
  const void* at = std::memchr(data + p, stop, size - p);
  return at != nullptr ? static_cast<std::size_t>(static_cast<const char*>(at) - data) : size;
}

// The end of the run of class bytes from p: its first 16 bytes one by one
// (most runs, numbers and words, end there), then 32 (AVX2) or 16 (SSSE3)
// bytes at a time, each byte's low nibble picking a row of the class and its
// high nibble a bit of it (pshufb); the last bytes one by one.
[[gnu::noinline]] std::size_t LongRunEnd(const std::array<std::uint8_t, 32>& rows,
                                         const std::array<bool, 256>& in_class, const char* data,
                                         std::size_t p, std::size_t size) {
#if defined(LLE_SIMD_LANES)
  alignas(16) static constexpr std::uint8_t kLowBits[16] = {1, 2, 4, 8, 16, 32, 64, 128};
  alignas(16) static constexpr std::uint8_t kHighBits[16] = {0, 0, 0, 0, 0,  0,  0,  0,
                                                             1, 2, 4, 8, 16, 32, 64, 128};
  const Lanes::V ascii = Lanes::Table(rows.data()), high = Lanes::Table(rows.data() + 16);
  const Lanes::V low_bits = Lanes::Table(kLowBits), high_bits = Lanes::Table(kHighBits);
  for (; p + Lanes::kWidth <= size; p += Lanes::kWidth) {
    const Lanes::V x = Lanes::Load(data + p);
    const Lanes::V lo = Lanes::Low(x), hi = Lanes::High(x);
    const Lanes::V in =
        Lanes::Or(Lanes::And(Lanes::Lookup(ascii, lo), Lanes::Lookup(low_bits, hi)),
                  Lanes::And(Lanes::Lookup(high, lo), Lanes::Lookup(high_bits, hi)));
    const std::uint32_t out = Lanes::Zero(in);
    if (out != 0) return p + static_cast<std::size_t>(__builtin_ctz(out));
  }
#else
  (void)rows;
#endif
  while (p < size && in_class[static_cast<unsigned char>(data[p])]) ++p;
  return p;
}

inline std::size_t ClassRunEnd(const std::array<std::uint8_t, 32>& rows,
                               const std::array<bool, 256>& in_class, const char* data,
                               std::size_t p, std::size_t size) {
  const std::size_t short_end = std::min(size, p + 16);
  while (p < short_end && in_class[static_cast<unsigned char>(data[p])]) ++p;
  return p < short_end ? p : LongRunEnd(rows, in_class, data, p, size);
}

}  // namespace

void RegexPlan::Unset(const Step& choice, re2::StringPiece* groups, int num_groups) {
  for (const int g : choice.groups) {
    if (g <= num_groups) groups[g] = re2::StringPiece();
  }
}

bool RegexPlan::MatchAt(std::string_view text, std::size_t pos, re2::StringPiece* groups,
                        int num_groups) const {
  for (int g = 1; g <= num_groups; ++g) groups[g] = re2::StringPiece();
  return MatchFrom(0, text, pos, pos, groups, num_groups);
}

bool RegexPlan::MatchFrom(std::size_t s, std::string_view text, std::size_t p, std::size_t start,
                          re2::StringPiece* groups, int num_groups) const {
  const char* const data = text.data();
  const std::size_t size = text.size();
  for (; s < steps_.size(); ++s) {
    const Step& step = steps_[s];
    switch (step.kind) {
      case Step::kLiteral:
        if (step.literal.size() > size - p ||
            !LiteralAt(step.literal, step.words, step.masks, data + p, size - p)) {
          return false;
        }
        p += step.literal.size();
        break;
      case Step::kRun: {
        const std::size_t end = step.stop >= 0
                                    ? StopAt(data, p, size, static_cast<char>(step.stop))
                                    : ClassRunEnd(step.rows, step.in_class, data, p, size);
        if (end - p < step.give_back + (step.at_least_one ? 1u : 0u)) return false;
        p = end - step.give_back;
        break;
      }
      case Step::kByte:
        if (p == size || !step.in_class[static_cast<unsigned char>(data[p])]) return false;
        ++p;
        break;
      case Step::kAlt:
        for (const std::size_t branch : step.branches) {
          Unset(step, groups, num_groups);
          if (MatchFrom(branch, text, p, start, groups, num_groups)) return true;
        }
        return false;
      case Step::kJump:
        s = step.end - 1;
        break;
      case Step::kOptional:
        if (MatchFrom(s + 1, text, p, start, groups, num_groups)) return true;
        Unset(step, groups, num_groups);
        s = step.end - 1;
        break;
      case Step::kOpen:
        if (step.group <= num_groups) groups[step.group] = re2::StringPiece(data + p, 0);
        break;
      case Step::kClose:
        if (step.group <= num_groups) {
          const char* const opened = groups[step.group].data();
          groups[step.group] =
              re2::StringPiece(opened, static_cast<std::size_t>(data + p - opened));
        }
        break;
      case Step::kEnd:
        if (p != size) return false;
        break;
    }
  }
  if (num_groups >= 0) groups[0] = re2::StringPiece(data + start, p - start);
  return true;
}

}  // namespace lle
