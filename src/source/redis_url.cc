#include "llm_log_exporter/source/redis_url.h"

#include <charconv>

namespace lle {
namespace {

constexpr std::string_view kTcpScheme = "redis://";
constexpr std::string_view kUnixScheme = "unix://";

// A whole number in [lo, hi], all of `text`.
bool ParseNumber(std::string_view text, int lo, int hi, int* out) {
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < lo || value > hi) {
    return false;
  }
  *out = value;
  return true;
}

// Redis numbers its databases from 0; 16 by default, more if configured.
bool ParseDb(std::string_view text, int* db) { return ParseNumber(text, 0, 1 << 20, db); }

}  // namespace

std::string RedisUrl::Address() const {
  if (!unix_path.empty()) return "unix://" + unix_path + "?db=" + std::to_string(db);
  const bool ipv6 = host.find(':') != std::string::npos;
  return "redis://" + (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + "/" +
         std::to_string(db);
}

std::optional<RedisUrl> ParseRedisUrl(std::string_view text, std::string* error) {
  RedisUrl url;
  if (text.substr(0, kUnixScheme.size()) == kUnixScheme) {
    std::string_view rest = text.substr(kUnixScheme.size());
    const std::size_t query = rest.find('?');
    if (query != std::string_view::npos) {
      const std::string_view param = rest.substr(query + 1);
      if (param.substr(0, 3) != "db=" || !ParseDb(param.substr(3), &url.db)) {
        *error = "after '?' only db=N (a database number) is understood";
        return std::nullopt;
      }
      rest = rest.substr(0, query);
    }
    if (rest.empty() || rest[0] != '/') {
      *error = "a unix socket URL is unix:///absolute/path";
      return std::nullopt;
    }
    url.unix_path = std::string(rest);
    return url;
  }
  if (text.substr(0, kTcpScheme.size()) != kTcpScheme) {
    *error =
        "must start with redis:// or unix:// (rediss://, TLS, is not supported: see "
        "docs/inputs.md)";
    return std::nullopt;
  }
  std::string_view rest = text.substr(kTcpScheme.size());
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    const std::string_view db = rest.substr(slash + 1);
    if (!db.empty() && !ParseDb(db, &url.db)) {
      *error = "the path must be a database number (redis://host:port/0)";
      return std::nullopt;
    }
  }
  const std::size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    const std::string_view user_info = authority.substr(0, at);
    const std::size_t colon = user_info.find(':');
    url.user = std::string(user_info.substr(0, colon));
    if (colon != std::string_view::npos) url.password = std::string(user_info.substr(colon + 1));
    authority = authority.substr(at + 1);
  }
  std::string_view port;
  if (!authority.empty() && authority[0] == '[') {  // [IPv6]:port
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      *error = "an IPv6 host has no closing ']'";
      return std::nullopt;
    }
    url.host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') {
        *error = "expected ':port' after ']'";
        return std::nullopt;
      }
      port = after.substr(1);
    }
  } else {
    const std::size_t colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (url.host.empty()) {
    *error = "no host (redis://host:port)";
    return std::nullopt;
  }
  if (!port.empty() && !ParseNumber(port, 1, 65535, &url.port)) {
    *error = "the port must be a number from 1 to 65535";
    return std::nullopt;
  }
  return url;
}

std::string RedactRedisUrl(std::string_view text) {
  std::string out(text);
  if (text.substr(0, kTcpScheme.size()) != kTcpScheme) return out;
  const std::size_t end = text.find('/', kTcpScheme.size());
  const std::size_t at = text.substr(0, end).rfind('@');
  if (at == std::string_view::npos) return out;
  const std::size_t colon = text.find(':', kTcpScheme.size());
  if (colon == std::string_view::npos || colon > at) return out;
  return out.replace(colon + 1, at - colon - 1, "***");
}

}  // namespace lle
