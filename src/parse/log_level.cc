#include "llm_log_exporter/parse/log_level.h"

#include <cstring>

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
  if (close == std::string_view::npos || close + 1 >= head.size() ||
      head.substr(0, close).find("pid=") == std::string_view::npos) {
    return p;
  }
  // vLLM colours it: "\x1b[0;36m(Worker_TP2 pid=9)\x1b[0;0m ".
  const std::size_t after = SkipAnsi(s, p + close + 1);
  return after < s.size() && s[after] == ' ' ? after + 1 : p;
}

// ANSI codes and process prefixes, as many as there are: vLLM's workers
// interleave, so one line may carry several coloured prefixes.
std::size_t SkipProcessPrefixes(std::string_view s, std::size_t p) {
  for (;;) {
    p = SkipAnsi(s, p);
    const std::size_t q = SkipProcessPrefix(s, p);
    if (q == p) return p;
    p = q;
  }
}

// "2025-04-05T10:23:45.123456Z", "2025-04-05 10:23:45,123", then separators
// (spaces, '-', '|'). Returns the position after them, or `p` if there is none.
std::size_t SkipTimestamp(std::string_view s, std::size_t p) {
  if (!DigitsAt(s, p, 4) || p + 10 > s.size() || s[p + 4] != '-' || !DigitsAt(s, p + 5, 2) ||
      s[p + 7] != '-' || !DigitsAt(s, p + 8, 2)) {
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
  for (;;) {
    const std::size_t t = SkipAnsi(s, r);
    if (t < s.size() && (IsSpace(s[t]) || s[t] == '-' || s[t] == '|')) {
      r = t + 1;
    } else {
      break;
    }
  }
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
    // The first letter before the rest: every line asks, most have a level.
    if (w.word[0] != s[p] || s.compare(p, w.word.size(), w.word) != 0) continue;
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

// llama.cpp's `m.ss.mmm.uuu ` (minutes since start), then `I `, `W `, `E `
// or `D `. Returns kNone if `p` holds no such time.
LogLevel LlamaCppLevel(std::string_view s, std::size_t p) {
  std::size_t q = p;
  while (q < s.size() && q - p < 8 && IsDigit(s[q])) ++q;
  if (q == p || !(q + 11 < s.size()) || s[q] != '.' || !DigitsAt(s, q + 1, 2) || s[q + 3] != '.' ||
      !DigitsAt(s, q + 4, 3) || s[q + 7] != '.' || !DigitsAt(s, q + 8, 3) || s[q + 11] != ' ') {
    return LogLevel::kNone;
  }
  q = SkipAnsi(s, q + 12);
  if (q + 1 >= s.size() || s[q + 1] != ' ') return LogLevel::kNone;
  switch (s[q]) {
    case 'D':
      return LogLevel::kDebug;
    case 'I':
      return LogLevel::kInfo;
    case 'W':
      return LogLevel::kWarning;
    case 'E':
      return LogLevel::kError;
    default:
      return LogLevel::kNone;
  }
}

// A line that starts with a digit: a timestamp then the level word (or `name -
// LEVEL`), or llama.cpp's time and one-letter level.
LogLevel LevelAfterTime(std::string_view line, std::size_t p) {
  const std::size_t after_time = SkipTimestamp(line, p);
  if (after_time == p) return LlamaCppLevel(line, p);
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

// `[TM][WARNING] ` (LMDeploy's TurboMind), `[pid] ` then llama.cpp's time and
// level (llama-server's router mode), SGLang's `[2025-03-03 17:53:04 TP0] `
// then a level word (uvicorn's `INFO:     ...`).
LogLevel BracketedLevel(std::string_view s, std::size_t p) {
  if (s.compare(p, 5, "[TM][") == 0) return LevelWordAt(s, p + 5);
  if (DigitsAt(s, p + 1, 4) && p + 5 < s.size() && s[p + 5] == '-') {
    const std::size_t close = s.substr(p, 64).find("] ");
    return close == std::string_view::npos ? LogLevel::kNone : LevelWordAt(s, p + close + 2);
  }
  std::size_t q = p + 1;
  while (q < s.size() && q - p < 12 && IsDigit(s[q])) ++q;
  if (q == p + 1 || q + 1 >= s.size() || s[q] != ']' || s[q + 1] != ' ') return LogLevel::kNone;
  return LlamaCppLevel(s, q + 2);
}

// logfmt (Go slog, logrus: `time=... level=ERROR source=sched.go:455 msg=...`):
// the key `level` at a token start anywhere, its value debug, info, warn,
// warning, error, fatal or panic in any case, maybe quoted.
LogLevel LogfmtLevel(std::string_view s) {
  constexpr std::string_view kKey = "level";
  const char* const begin = s.data();
  const char* const end = begin + s.size();
  const char* eq = begin + kKey.size();
  while (eq < end) {
    eq = static_cast<const char*>(std::memchr(eq, '=', static_cast<std::size_t>(end - eq)));
    if (eq == nullptr) return LogLevel::kNone;
    const std::size_t key = static_cast<std::size_t>(eq - begin) - kKey.size();
    if (s.compare(key, kKey.size(), kKey) == 0 && (key == 0 || IsSpace(s[key - 1]))) {
      std::size_t v = key + kKey.size() + 1;
      const bool quoted = v < s.size() && s[v] == '"';
      if (quoted) ++v;
      std::size_t e = v;
      while (e < s.size() && e - v < 8 && IsAlpha(s[e])) ++e;
      const bool ends = e == s.size() || (quoted ? s[e] == '"' : IsSpace(s[e]));
      if (ends) {
        struct Name {
          std::string_view name;
          LogLevel level;
        };
        static constexpr Name kNames[] = {
            {"debug", LogLevel::kDebug},    {"info", LogLevel::kInfo},
            {"warn", LogLevel::kWarning},   {"warning", LogLevel::kWarning},
            {"error", LogLevel::kError},    {"fatal", LogLevel::kCritical},
            {"panic", LogLevel::kCritical},
        };
        const std::string_view word = s.substr(v, e - v);
        for (const Name& n : kNames) {
          if (EqualsIgnoreCase(word, n.name)) return n.level;
        }
      }
      return LogLevel::kNone;  // the first `level=` decides
    }
    eq += 1 + kKey.size();  // the next key ends after this '=' and its own 5 bytes
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
  std::size_t p = SkipProcessPrefixes(line, 0);
  if (p < line.size()) {
    const char c = line[p];
    if (IsUpper(c)) {
      const LogLevel level = LevelWordAt(line, p);
      if (level != LogLevel::kNone) return level;
    } else if (c == '[') {
      const LogLevel level = BracketedLevel(line, p);
      if (level != LogLevel::kNone) return level;
    } else if (IsDigit(c)) {
      const LogLevel level = LevelAfterTime(line, p);
      if (level != LogLevel::kNone) return level;
    }
  }
  return LogfmtLevel(line);
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
