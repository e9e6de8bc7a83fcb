#include "llm_log_exporter/parse/log_line.h"

#include <charconv>
#include <cmath>
#include <cstring>

#include "llm_log_exporter/core/ascii.h"

namespace lle {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || IsUpper(c); }
bool IsAlnum(char c) { return IsAlpha(c) || IsDigit(c); }
bool IsSpace(char c) { return c == ' ' || c == '\t'; }

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// --- Log levels ---------------------------------------------------------------

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

// --- vLLM stats ---------------------------------------------------------------

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && (IsSpace(s.back()) || s.back() == '.')) s.remove_suffix(1);
  return s;
}

// --- Tracebacks ---------------------------------------------------------------

constexpr std::string_view kTracebackHeader = "Traceback (most recent call last):";
constexpr std::string_view kDuringHandling =
    "During handling of the above exception, another exception occurred:";
constexpr std::string_view kDirectCause =
    "The above exception was the direct cause of the following exception:";

bool IsBlank(std::string_view s) {
  for (char c : s) {
    if (!IsSpace(c)) return false;
  }
  return true;
}

// `a.b_c.D`: ASCII identifiers joined by single dots.
bool IsDottedName(std::string_view s) {
  if (s.empty()) return false;
  bool at_start = true;
  for (char c : s) {
    if (c == '.') {
      if (at_start) return false;
      at_start = true;
    } else if (IsAlpha(c) || c == '_') {
      at_start = false;
    } else if (IsDigit(c)) {
      if (at_start) return false;
    } else {
      return false;
    }
  }
  return !at_start;
}

// The head of a final traceback line (`Name: message` or a bare `Name`):
// what precedes ": " (or a ':' at the end), or the whole line. Empty if the
// line cannot be one: it must start like a name and the head be one word.
std::string_view ExceptionHead(std::string_view rest) {
  if (rest.empty() || !(IsAlpha(rest[0]) || rest[0] == '_')) return {};
  std::size_t end = rest.size();
  const std::size_t colon = rest.find(':');
  if (colon != std::string_view::npos && (colon + 1 == rest.size() || rest[colon + 1] == ' ')) {
    end = colon;
  }
  std::string_view head = rest.substr(0, end);
  while (!head.empty() && IsSpace(head.back())) head.remove_suffix(1);
  if (head.size() > 256) return {};
  for (char c : head) {
    if (IsSpace(c)) return {};
  }
  return head;
}

// --- Sensitive data -------------------------------------------------------------

bool IsKeyChar(char c) { return IsAlnum(c) || c == '_' || c == '-'; }
bool IsBearerChar(char c) {
  return IsAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' ||
         c == '=';
}
bool IsEmailLocalChar(char c) {
  return IsAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

// At '-' of "sk-": a key not inside a longer word, with >= 20 key characters.
bool ApiKeyAt(const char* begin, const char* end, const char* dash) {
  if (dash - begin < 2 || dash[-2] != 's' || dash[-1] != 'k') return false;
  if (dash - begin > 2 && IsKeyChar(dash[-3])) return false;  // "task-force", "disk-..."
  const char* p = dash + 1;
  while (p < end && p - dash <= 20 && IsKeyChar(*p)) ++p;
  return p - dash > 20;
}

// At the first '-' of "-----BEGIN <label> PRIVATE KEY-----".
bool PrivateKeyAt(const char* dash, const char* end) {
  constexpr std::string_view kBegin = "-----BEGIN ";
  if (static_cast<std::size_t>(end - dash) < kBegin.size() ||
      std::memcmp(dash, kBegin.data(), kBegin.size()) != 0) {
    return false;
  }
  const char* label = dash + kBegin.size();
  const char* p = label;
  while (p < end && p - label < 64 && (IsUpper(*p) || IsDigit(*p) || *p == ' ')) ++p;
  if (end - p < 5 || std::memcmp(p, "-----", 5) != 0) return false;
  const std::string_view text(label, static_cast<std::size_t>(p - label));
  return EndsWith(text, "PRIVATE KEY") || EndsWith(text, "PRIVATE KEY BLOCK");
}

// At '@': local part before, a dotted domain with a final label of >= 2 letters after.
bool EmailAt(const char* begin, const char* end, const char* at) {
  const char* local = at;
  while (local > begin && at - local < 64 && IsEmailLocalChar(local[-1])) --local;
  if (local == at || *local == '.') return false;
  const char* p = at + 1;
  const char* last_dot = nullptr;
  const char* label_start = p;
  while (p < end && (IsAlnum(*p) || *p == '-' || *p == '.')) {
    if (*p == '.') {
      if (p == label_start) break;  // ".." or a leading dot ends the domain
      last_dot = p;
      label_start = p + 1;
    }
    ++p;
  }
  // A sentence's full stop after the domain is not part of it.
  const char* domain_end = p;
  if (domain_end > at + 1 && domain_end[-1] == '.') {
    --domain_end;
    last_dot = nullptr;
    for (const char* q = at + 1; q < domain_end; ++q) {
      if (*q == '.') last_dot = q;
    }
  }
  if (last_dot == nullptr || last_dot == at + 1 || !IsAlnum(at[1])) return false;
  const char* tld = last_dot + 1;
  if (domain_end - tld < 2) return false;
  for (const char* q = tld; q < domain_end; ++q) {
    if (!IsAlpha(*q)) return false;
  }
  return true;
}

// At 'B' or 'b': "Bearer " or "bearer " at a word start, then a token.
bool BearerAt(const char* begin, const char* end, const char* b) {
  if (end - b < 7 || std::memcmp(b + 1, "earer ", 6) != 0) return false;
  if (b > begin && IsAlnum(b[-1])) return false;
  const char* token = b + 7;
  const char* p = token;
  while (p < end && p - token < 16 && IsBearerChar(*p)) ++p;
  return p - token >= 16;
}

}  // namespace

// --- Log levels ---------------------------------------------------------------

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

// --- vLLM stats ---------------------------------------------------------------

bool ParseVllmStats(std::string_view line, VllmStats* out) {
  constexpr std::string_view kMarker = "Avg prompt throughput: ";
  const std::size_t start = line.find(kMarker);
  if (start == std::string_view::npos) return false;
  *out = VllmStats{};
  // v1 engines: "Engine 000: Avg prompt throughput: ...".
  const std::string_view before = line.substr(0, start);
  if (EndsWith(before, ": ")) {
    std::size_t d = before.size() - 2;
    const std::size_t digits_end = d;
    while (d > 0 && IsDigit(before[d - 1])) --d;
    if (d < digits_end && digits_end - d <= 6 && EndsWith(before.substr(0, d), "Engine ")) {
      int engine = 0;
      std::from_chars(before.data() + d, before.data() + digits_end, engine);
      out->engine = engine;
    }
  }
  enum Unit { kTokensPerSecond, kRequests, kPercent };
  struct Field {
    std::string_view key;
    Unit unit;
    std::optional<double> VllmStats::*member;
  };
  static const Field kFields[] = {
      {"Avg prompt throughput", kTokensPerSecond, &VllmStats::prompt_throughput},
      {"Avg generation throughput", kTokensPerSecond, &VllmStats::generation_throughput},
      {"Running", kRequests, &VllmStats::running},
      {"Pending", kRequests, &VllmStats::waiting},
      {"Waiting", kRequests, &VllmStats::waiting},
      {"Swapped", kRequests, &VllmStats::swapped},
      {"GPU KV cache usage", kPercent, &VllmStats::gpu_kv_cache_usage_ratio},
      {"CPU KV cache usage", kPercent, &VllmStats::cpu_kv_cache_usage_ratio},
      {"Prefix cache hit rate", kPercent, &VllmStats::prefix_cache_hit_ratio},
  };
  // "Key: number unit" items separated by ", ".
  std::string_view rest = line.substr(start);
  while (!rest.empty()) {
    const std::size_t comma = rest.find(", ");
    const std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 2);
    const std::size_t colon = item.find(": ");
    if (colon == std::string_view::npos) continue;
    const std::string_view key = item.substr(0, colon);
    const std::string_view text = item.substr(colon + 2);
    double value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || !std::isfinite(value) || value < 0) continue;
    const std::string_view unit = Trim(text.substr(static_cast<std::size_t>(end - text.data())));
    for (const Field& f : kFields) {
      if (key != f.key) continue;
      const bool unit_ok = (f.unit == kTokensPerSecond && unit == "tokens/s") ||
                           (f.unit == kRequests && unit == "reqs") ||
                           (f.unit == kPercent && unit == "%");
      if (unit_ok) out->*f.member = f.unit == kPercent ? value / 100 : value;
      break;
    }
  }
  return out->prompt_throughput.has_value();
}

// --- Tracebacks ---------------------------------------------------------------

bool TracebackTracker::TryStart(std::string_view line) {
  if (!EndsWith(line, kTracebackHeader)) return false;
  const std::string_view prefix = line.substr(0, line.size() - kTracebackHeader.size());
  // Exception groups print "  + Exception Group Traceback ...", then "  | "
  // lines: a different shape, not followed.
  if (prefix.size() > kMaxPrefixBytes || EndsWith(prefix, "Exception Group ")) return false;
  std::memcpy(prefix_, prefix.data(), prefix.size());
  prefix_size_ = prefix.size();
  state_ = State::kFrames;
  type_size_ = 0;
  type_other_ = false;
  return true;
}

void TracebackTracker::SetType(std::string_view head) {
  type_other_ = !IsDottedName(head) || head.size() > kMaxTypeBytes;
  if (type_other_) return;
  std::memcpy(type_, head.data(), head.size());
  type_size_ = head.size();
}

TracebackTracker::Result TracebackTracker::Done(std::string_view type) {
  state_ = State::kIdle;
  Result result;
  result.finished = true;
  result.type = type;
  return result;
}

TracebackTracker::Result TracebackTracker::Feed(std::string_view line) {
  if (state_ == State::kIdle) {
    Result result;
    result.in_block = TryStart(line);
    return result;
  }
  const bool has_prefix =
      line.size() >= prefix_size_ && std::memcmp(line.data(), prefix_, prefix_size_) == 0;
  const std::string_view rest = has_prefix ? line.substr(prefix_size_) : std::string_view();
  Result continued;
  continued.in_block = true;
  std::string_view done_type = kTruncated;
  if (has_prefix) {
    switch (state_) {
      case State::kFrames: {
        if (!rest.empty() && IsSpace(rest[0])) return continued;  // frame, code, caret
        if (rest == kTracebackHeader) break;  // a new block: this one never ended
        const std::string_view head = ExceptionHead(rest);
        // A log line's level word is no exception name ("INFO:     ...").
        if (!head.empty() && ClassifyLevel(rest) == LogLevel::kNone) {
          SetType(head);
          state_ = State::kException;
          return continued;
        }
        break;
      }
      case State::kException:
        if (IsBlank(rest)) return continued;
        if (rest == kDuringHandling || rest == kDirectCause) {
          state_ = State::kChained;
          return continued;
        }
        done_type = type_other_ ? kOther : std::string_view(type_, type_size_);
        break;
      case State::kChained:
        if (IsBlank(rest)) return continued;
        if (rest == kTracebackHeader) {
          state_ = State::kFrames;
          return continued;
        }
        break;
      case State::kIdle:
        break;
    }
  } else if (state_ == State::kException) {
    done_type = type_other_ ? kOther : std::string_view(type_, type_size_);
  }
  // This line is not part of the block: it ends, and the line is looked at afresh.
  Result result = Done(done_type);
  result.in_block = TryStart(line);
  return result;
}

TracebackTracker::Result TracebackTracker::Flush() {
  if (state_ != State::kException) return {};
  return Done(type_other_ ? kOther : std::string_view(type_, type_size_));
}

TracebackTracker::Result TracebackTracker::Finish() {
  switch (state_) {
    case State::kIdle:
      return {};
    case State::kException:
      return Flush();
    case State::kFrames:
    case State::kChained:
      break;
  }
  return Done(kTruncated);
}

std::size_t TracebackSafeEnd(std::string_view lines) {
  const char* const begin = lines.data();
  const char* const end = begin + lines.size();
  const char* from = lines.size() > kTracebackWindow ? end - kTracebackWindow : begin;
  // The first header of the window, at the end of its line; none: nothing is open.
  const char* p = from;
  for (;;) {
    p = static_cast<const char*>(memmem(p, static_cast<std::size_t>(end - p),
                                        kTracebackHeader.data(), kTracebackHeader.size()));
    if (p == nullptr) return lines.size();
    p += kTracebackHeader.size();
    if (*p == '\n' || (*p == '\r' && p[1] == '\n')) break;
  }
  const char* const line_end = static_cast<const char*>(
      memrchr(from, '\n', static_cast<std::size_t>(p - kTracebackHeader.size() - from)));
  const char* line = line_end != nullptr ? line_end + 1 : from;
  // Follow the blocks from there as a worker would; note where the open one began.
  TracebackTracker tracker;
  const char* open = nullptr;
  while (line < end) {
    const char* nl =
        static_cast<const char*>(std::memchr(line, '\n', static_cast<std::size_t>(end - line)));
    std::string_view text(line, static_cast<std::size_t>(nl - line));
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    const bool was_open = tracker.in_block();
    const TracebackTracker::Result result = tracker.Feed(text);
    if (result.in_block && (!was_open || result.finished)) open = line;
    line = nl + 1;
  }
  // Even a block whose exception line came stays open: a chained one may follow.
  return tracker.in_block() ? static_cast<std::size_t>(open - begin) : lines.size();
}

// --- Sensitive data -------------------------------------------------------------

std::string_view SensitiveKindName(std::size_t index) {
  static constexpr std::string_view kNames[kNumSensitiveKinds] = {"api_key", "bearer_token",
                                                                  "email", "private_key"};
  return index < kNumSensitiveKinds ? kNames[index] : std::string_view();
}

SensitiveKinds ScanSensitive(std::string_view line) {
  SensitiveKinds kinds = 0;
  const char* begin = line.data();
  const char* end = begin + line.size();
  // '-' anchors both "sk-" keys and "-----BEGIN" headers.
  for (const char* p = static_cast<const char*>(std::memchr(begin, '-', line.size()));
       p != nullptr && kinds != (kSensitiveApiKey | kSensitivePrivateKey);
       p = static_cast<const char*>(
           std::memchr(p + 1, '-', static_cast<std::size_t>(end - p - 1)))) {
    if (!(kinds & kSensitiveApiKey) && ApiKeyAt(begin, end, p)) kinds |= kSensitiveApiKey;
    if (!(kinds & kSensitivePrivateKey) && PrivateKeyAt(p, end)) {
      kinds |= kSensitivePrivateKey;
    }
    if (p + 1 == end) break;
  }
  for (const char* p = static_cast<const char*>(std::memchr(begin, '@', line.size())); p != nullptr;
       p = static_cast<const char*>(
           std::memchr(p + 1, '@', static_cast<std::size_t>(end - p - 1)))) {
    if (EmailAt(begin, end, p)) {
      kinds |= kSensitiveEmail;
      break;
    }
    if (p + 1 == end) break;
  }
  // memchr for 'B' and 'b' beats memmem for "earer ": either letter is rare
  // enough in a log line that the 7-byte compare behind each hit costs little.
  for (const char first : {'B', 'b'}) {
    for (const char* p = static_cast<const char*>(std::memchr(begin, first, line.size()));
         p != nullptr && !(kinds & kSensitiveBearerToken);
         p = static_cast<const char*>(
             std::memchr(p + 1, first, static_cast<std::size_t>(end - p - 1)))) {
      if (BearerAt(begin, end, p)) kinds |= kSensitiveBearerToken;
      if (p + 1 == end) break;
    }
  }
  return kinds;
}

}  // namespace lle
