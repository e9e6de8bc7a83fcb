#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace lle {

/// How the exporter's own log lines look (--log.format).
enum class LogFormat {
  kPlain,   // `2026-01-02T03:04:05.678+0000 info message`: the default, as before
  kLogfmt,  // `ts=2026-01-02T03:04:05.678Z level=info msg="message"` (node_exporter)
  kJson,    // {"ts":"2026-01-02T03:04:05.678Z","level":"info","msg":"message"}
};

/// The format a --log.format value names ("plain", "logfmt", "json"), or nullopt.
std::optional<LogFormat> ParseLogFormat(std::string_view name);

/// One log line in `format` (kLogfmt or kJson; kPlain is spdlog's own
/// pattern), newline included. `level` is one of debug, info, warn, error; the
/// time is written in UTC with milliseconds. In logfmt, `msg` is quoted when
/// it holds a space, '=', '"' or a control character (or is empty), with '"',
/// '\' and control characters escaped; in JSON it is a JSON string, any
/// invalid UTF-8 byte replaced by U+FFFD so that the line stays valid JSON.
/// Pure: safe from any thread.
std::string FormatLogLine(LogFormat format, std::chrono::system_clock::time_point time,
                          std::string_view level, std::string_view msg);

/// Sets up the exporter's own log: spdlog's default logger, to stderr, at
/// `level` (debug, info, warn, error or off), in `format`. Call once, before
/// any thread logs.
void SetupLogging(const std::string& level, LogFormat format = LogFormat::kPlain);

}  // namespace lle
