#include "llm_log_exporter/parse/log_level.h"

#include "llm_log_exporter/core/ascii.h"
#include "text_chars.h"

namespace lle {
namespace {

// ANSI colour codes (ESC [ digits/; m), as vLLM prints on a terminal.
std::size_t SkipAnsi(std::string_view s, std::size_t p) {
  while (p + 1 < s.size() && s[p] == '\x1b' && s[p + 1] == '[') {
    std::size_t q = p + 2;
    while (q < s.size() && (IsDigit(s[q]) || s[q] == ';')) ++q;
    if (q >= s.size() || s[q] != 'm') return p;
    p = q + 1;
  }
  return p;
}

// "(APIServer pid=123) ", "(RayWorkerWrapper pid=9, ip=10.0.0.2) ".
std::size_t SkipProcessPrefix(std::string_view s, std::size_t p) {
  if (p >= s.size() || s[p] != '(') return p;
  const std::string_view head = s.substr(p, 128);
  const std::size_t close = head.find(')');
  if (close == std::string_view::npos || close + 1 >= head.size() || head[close + 1] != ' ' ||
      head.substr(0, close).find("pid=") == std::string_view::npos) {
    return p;
  }
  return p + close + 2;
}

bool Digits(std::string_view s, std::size_t p, std::size_t n) {
  if (p + n > s.size()) return false;
  for (std::size_t i = p; i < p + n; ++i) {
    if (!IsDigit(s[i])) return false;
  }
  return true;
}

// "2025-04-05T10:23:45.123456Z", "2025-04-05 10:23:45,123", then separators
// (spaces, '-', '|'). Returns the position after them, or `p` if there is none.
std::size_t SkipTimestamp(std::string_view s, std::size_t p) {
  if (!Digits(s, p, 4) || p + 10 > s.size() || s[p + 4] != '-' || !Digits(s, p + 5, 2) ||
      s[p + 7] != '-' || !Digits(s, p + 8, 2)) {
    return p;
  }
  std::size_t q = p + 10;
  if (q + 1 < s.size() && (s[q] == 'T' || s[q] == ' ') && IsDigit(s[q + 1])) {
    ++q;
    while (q < s.size() && (IsDigit(s[q]) || s[q] == ':' || s[q] == '.' || s[q] == ',')) ++q;
  }
  if (q < s.size() && s[q] == 'Z') {
    ++q;
  } else if (q + 1 < s.size() && (s[q] == '+' || s[q] == '-') && IsDigit(s[q + 1])) {
    ++q;
    while (q < s.size() && (IsDigit(s[q]) || s[q] == ':')) ++q;
  }
  std::size_t r = q;
  while (r < s.size() && (IsSpace(s[r]) || s[r] == '-' || s[r] == '|')) ++r;
  return r == q ? p : r;
}

struct LevelWord {
  std::string_view word;
  LogLevel level;
};
// WARNING before WARN: the longer word wins.
constexpr LevelWord kLevelWords[] = {
    {"DEBUG", LogLevel::kDebug},       {"TRACE", LogLevel::kDebug},    {"INFO", LogLevel::kInfo},
    {"WARNING", LogLevel::kWarning},   {"WARN", LogLevel::kWarning},   {"ERROR", LogLevel::kError},
    {"CRITICAL", LogLevel::kCritical}, {"FATAL", LogLevel::kCritical},
};

LogLevel LevelWordAt(std::string_view s, std::size_t p) {
  if (p >= s.size() || !IsUpper(s[p])) return LogLevel::kNone;
  for (const LevelWord& w : kLevelWords) {
    if (s.compare(p, w.word.size(), w.word) != 0) continue;
    const std::size_t end = p + w.word.size();
    if (end == s.size()) return w.level;
    const char next = s[end];
    if (next == ' ' || next == ':' || next == '\x1b' || next == ']' || next == '\t') {
      return w.level;
    }
    return LogLevel::kNone;  // e.g. "INFORMATION", "ERRORS"
  }
  return LogLevel::kNone;
}

}  // namespace

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
    case LogLevel::kCritical:
      return "critical";
    case LogLevel::kNone:
      break;
  }
  return "";
}

LogLevel ClassifyLevel(std::string_view line) {
  std::size_t p = SkipAnsi(line, 0);
  p = SkipAnsi(line, SkipProcessPrefix(line, p));
  if (p < line.size() && IsUpper(line[p])) return LevelWordAt(line, p);
  const std::size_t after_time = SkipTimestamp(line, p);
  if (after_time == p) return LogLevel::kNone;
  p = SkipAnsi(line, after_time);
  const LogLevel level = LevelWordAt(line, p);
  if (level != LogLevel::kNone) return level;
  // "%(asctime)s - %(name)s - %(levelname)s - ...": one name token, then " - ".
  const std::size_t space = line.find(' ', p);
  if (space == std::string_view::npos || line.compare(space, 3, " - ") != 0) {
    return LogLevel::kNone;
  }
  return LevelWordAt(line, SkipAnsi(line, space + 3));
}

LogLevel LevelFromName(std::string_view name) {
  struct Name {
    std::string_view name;
    LogLevel level;
  };
  static constexpr Name kNames[] = {
      {"debug", LogLevel::kDebug},    {"trace", LogLevel::kDebug},
      {"info", LogLevel::kInfo},      {"information", LogLevel::kInfo},
      {"notice", LogLevel::kInfo},    {"warning", LogLevel::kWarning},
      {"warn", LogLevel::kWarning},   {"error", LogLevel::kError},
      {"err", LogLevel::kError},      {"critical", LogLevel::kCritical},
      {"crit", LogLevel::kCritical},  {"fatal", LogLevel::kCritical},
      {"alert", LogLevel::kCritical}, {"emergency", LogLevel::kCritical},
      {"emerg", LogLevel::kCritical}, {"panic", LogLevel::kCritical},
  };
  for (const Name& n : kNames) {
    if (EqualsIgnoreCase(name, n.name)) return n.level;
  }
  return LogLevel::kNone;
}

}  // namespace lle
