#include "regex_plan.h"

#include <cstring>

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

}  // namespace

std::unique_ptr<const RegexPlan> RegexPlan::Of(std::string_view pattern) {
  auto plan = std::unique_ptr<RegexPlan>(new RegexPlan());
  std::vector<Step>& steps = plan->steps_;
  const auto add_literal = [&steps](char c) {
    if (steps.empty() || steps.back().kind != Step::kLiteral) steps.emplace_back(Step::kLiteral);
    steps.back().literal += c;
  };
  int open = 0;  // the group being read, 0 if none
  for (std::size_t i = 0; i < pattern.size();) {
    const char c = pattern[i];
    ByteClass run{};
    if (c == '(') {
      const std::size_t name_end = pattern.find('>', i);
      if (open != 0 || pattern.substr(i, 4) != "(?P<" || name_end == std::string_view::npos) {
        return nullptr;
      }
      open = ++plan->num_groups_;
      steps.emplace_back(Step::kOpen);
      steps.back().group = open;
      i = name_end + 1;
      continue;
    }
    if (c == ')') {
      if (open == 0) return nullptr;
      steps.emplace_back(Step::kClose);
      steps.back().group = open;
      open = 0;
      ++i;
      continue;
    }
    if (c == '[') {
      if (!BracketClass(pattern, &i, &run)) return nullptr;
    } else if (c == '\\') {
      if (i + 1 >= pattern.size()) return nullptr;
      const char e = pattern[i + 1];
      if (IsAsciiPunct(e)) {
        add_literal(e);
        i += 2;
        if (IsQuantifier(pattern, i)) return nullptr;
        continue;
      }
      if (!PerlClass(e, &run)) return nullptr;
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
    // A class: a run of it, greedy.
    if (i >= pattern.size() || (pattern[i] != '+' && pattern[i] != '*')) return nullptr;
    Step step(Step::kRun);
    step.in_class = run;
    step.at_least_one = pattern[i] == '+';
    ++i;
    if (IsQuantifier(pattern, i)) return nullptr;  // lazy, possessive or doubled
    int outside = 0;
    for (int b = 0; b < 256; ++b) {
      if (!run[b]) {
        step.stop = b;
        ++outside;
      }
    }
    if (outside != 1) step.stop = -1;
    steps.push_back(step);
  }
  if (open != 0 || steps.empty() || steps.front().kind != Step::kLiteral) return nullptr;
  // Each run must end where the text after it begins: at the end, or before
  // a literal whose first byte it does not take.
  for (std::size_t s = 0; s < steps.size(); ++s) {
    if (steps[s].kind != Step::kRun) continue;
    std::size_t next = s + 1;
    while (next < steps.size() &&
           (steps[next].kind == Step::kOpen || steps[next].kind == Step::kClose)) {
      ++next;
    }
    if (next == steps.size()) continue;
    if (steps[next].kind != Step::kLiteral ||
        steps[s].in_class[static_cast<unsigned char>(steps[next].literal[0])]) {
      return nullptr;
    }
  }
  return plan;
}

bool RegexPlan::MatchAt(std::string_view text, std::size_t pos, re2::StringPiece* groups,
                        int num_groups) const {
  const char* const data = text.data();
  const std::size_t size = text.size();
  std::size_t p = pos;
  std::size_t opened = 0;
  for (int g = 1; g <= num_groups; ++g) groups[g] = re2::StringPiece();
  for (const Step& step : steps_) {
    switch (step.kind) {
      case Step::kLiteral:
        if (step.literal.size() > size - p ||
            std::memcmp(data + p, step.literal.data(), step.literal.size()) != 0) {
          return false;
        }
        p += step.literal.size();
        break;
      case Step::kRun: {
        std::size_t end = p;
        if (step.stop >= 0) {
          const void* at = std::memchr(data + p, step.stop, size - p);
          end =
              at != nullptr ? static_cast<std::size_t>(static_cast<const char*>(at) - data) : size;
        } else {
          while (end < size && step.in_class[static_cast<unsigned char>(data[end])]) ++end;
        }
        if (step.at_least_one && end == p) return false;
        p = end;
        break;
      }
      case Step::kOpen:
        opened = p;
        break;
      case Step::kClose:
        if (step.group <= num_groups)
          groups[step.group] = re2::StringPiece(data + opened, p - opened);
        break;
    }
  }
  if (num_groups >= 0) groups[0] = re2::StringPiece(data + pos, p - pos);
  return true;
}

}  // namespace lle
