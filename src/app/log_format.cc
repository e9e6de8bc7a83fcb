#include "llm_log_exporter/app/log_format.h"

#include <spdlog/formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <ctime>
#include <memory>

#include "llm_log_exporter/core/json_text.h"

namespace lle {
namespace {

// "2026-01-02T03:04:05.678Z": RFC 3339 in UTC with milliseconds, as
// node_exporter's `ts`.
void AppendTime(std::chrono::system_clock::time_point time, std::string* out) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch());
  auto seconds = static_cast<std::time_t>(ms.count() / 1000);
  auto millis = static_cast<int>(ms.count() % 1000);
  if (millis < 0) {  // before 1970: floor, not truncate
    millis += 1000;
    --seconds;
  }
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[40];
  const int n = std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                              tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                              tm.tm_sec, millis);
  if (n > 0) out->append(text, static_cast<std::size_t>(n));
}

// `c` as logfmt and JSON strings write it: control bytes (DEL too), quote
// and backslash escaped, the rest as is.
void AppendEscape(unsigned char c, std::string* out) {
  if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
    AppendJsonEscape(c, out);
  } else {
    *out += static_cast<char>(c);
  }
}

void AppendJsonString(std::string_view s, std::string* out) {
  *out += '"';
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      AppendEscape(c, out);
      ++i;
    } else if (const int n = Utf8Length(s.data() + i, s.data() + s.size()); n > 0) {
      out->append(s.data() + i, static_cast<std::size_t>(n));
      i += static_cast<std::size_t>(n);
    } else {
      *out += "\\ufffd";
      ++i;
    }
  }
  *out += '"';
}

void AppendLogfmtValue(std::string_view s, std::string* out) {
  bool quote = s.empty();
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= ' ' || c == '=' || c == '"' || c == 0x7f) quote = true;
  }
  if (!quote) {
    out->append(s);
    return;
  }
  *out += '"';
  for (const char ch : s) AppendEscape(static_cast<unsigned char>(ch), out);
  *out += '"';
}

// node_exporter's level names: spdlog's "warning" is "warn", "critical" is
// "error", "trace" is "debug".
std::string_view LevelName(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
    case spdlog::level::debug: return "debug";
    case spdlog::level::info: return "info";
    case spdlog::level::warn: return "warn";
    default: return "error";
  }
}

// spdlog calls format() under its sink's lock; the formatter keeps no state.
class LineFormatter : public spdlog::formatter {
 public:
  explicit LineFormatter(LogFormat format) : format_(format) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const std::string line =
        FormatLogLine(format_, msg.time, LevelName(msg.level),
                      std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<LineFormatter>(format_);
  }

 private:
  LogFormat format_;
};

}  // namespace

std::optional<LogFormat> ParseLogFormat(std::string_view name) {
  if (name == "plain") return LogFormat::kPlain;
  if (name == "logfmt") return LogFormat::kLogfmt;
  if (name == "json") return LogFormat::kJson;
  return std::nullopt;
}

std::string FormatLogLine(LogFormat format, std::chrono::system_clock::time_point time,
                          std::string_view level, std::string_view msg) {
  std::string out;
  out.reserve(msg.size() + 64);
  if (format == LogFormat::kJson) {
    out += "{\"ts\":\"";
    AppendTime(time, &out);
    out += "\",\"level\":";
    AppendJsonString(level, &out);
    out += ",\"msg\":";
    AppendJsonString(msg, &out);
    out += "}\n";
  } else {
    out += "ts=";
    AppendTime(time, &out);
    out += " level=";
    AppendLogfmtValue(level, &out);
    out += " msg=";
    AppendLogfmtValue(msg, &out);
    out += '\n';
  }
  return out;
}

void SetupLogging(const std::string& level, LogFormat format) {
  auto logger = std::make_shared<spdlog::logger>("llm_log_exporter",
                                                 std::make_shared<spdlog::sinks::stderr_sink_mt>());
  if (format == LogFormat::kPlain) {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %l %v");
  } else {
    logger->set_formatter(std::make_unique<LineFormatter>(format));
  }
  logger->set_level(spdlog::level::from_str(level));
  spdlog::set_default_logger(logger);
}

}  // namespace lle
