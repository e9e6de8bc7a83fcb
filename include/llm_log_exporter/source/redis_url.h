#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace lle {

/// Where a Redis server is, and how to log in: a parsed
/// `redis://[user[:password]@]host[:port][/db]` or `unix:///path[?db=N]`.
/// Plain data.
struct RedisUrl {
  std::string host;       // empty for a unix socket
  int port = 6379;        // TCP only
  std::string unix_path;  // empty for TCP
  std::string user;       // empty: the default user
  std::string password;   // empty: none (AUTH not sent)
  int db = 0;

  /// The server without credentials: `redis://host:port/db` or
  /// `unix:///path?db=db`, for logs and the `source` label.
  std::string Address() const;
};

/// Parses `text`; on failure returns nullopt and says why in `*error`
/// (never quoting the password).
std::optional<RedisUrl> ParseRedisUrl(std::string_view text, std::string* error);

/// `text` with the password of a redis:// URL (between ':' and '@' after the
/// scheme) replaced by "***": safe to print in an error message.
std::string RedactRedisUrl(std::string_view text);

}  // namespace lle
