#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace lle {

// Log levels of text and JSON lines. No allocation and no regex.

/// The closed set of levels counted by qwen_log_events_total{level}.
enum class LogLevel : std::uint8_t { kNone, kDebug, kInfo, kWarning, kError, kCritical };
inline constexpr std::size_t kNumLogLevels = 6;  // kNone included

/// "debug", "info", "warning", "error", "critical"; "" for kNone.
std::string_view LogLevelName(LogLevel level);

/// The level of a text log line: the upper-case level word (DEBUG, TRACE,
/// INFO, WARNING, WARN, ERROR, CRITICAL, FATAL) first on the line, followed by
/// a space, tab, ':', ']', a colour code or the end, after optional ANSI
/// colour codes, an optional `(Name pid=N...) ` process prefix (vLLM workers,
/// Ray) and an optional leading timestamp `YYYY-MM-DD[T ]hh:mm:ss[.frac][zone]` (with one
/// `name - ` token after it, as in `%(asctime)s - %(name)s - %(levelname)s`).
/// Covers vLLM (`WARNING 04-05 10:23:45 [file.py:12] ...`, older
/// `file.py:12] `), uvicorn (`INFO:     ...`), Python's basicConfig
/// (`ERROR:root:...`) and Rust tracing (TGI: `2024-...Z  WARN target: ...`).
/// kNone for anything else (JSON, tracebacks, free text).
LogLevel ClassifyLevel(std::string_view line);

/// The level named by a JSON event's `level`, `levelname` or `severity`
/// string, ASCII case-insensitive: debug/trace → debug; info/information/
/// notice → info; warning/warn → warning; error/err → error;
/// critical/crit/fatal/alert/emergency/emerg/panic → critical; else kNone.
LogLevel LevelFromName(std::string_view name);

}  // namespace lle
