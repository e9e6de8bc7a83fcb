#pragma once

#include <array>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace lle {

struct OpenSslApi;

/// Checks `Authorization: Basic ...` headers against bcrypt hashes (verified
/// with libxcrypt's crypt_r). Owns a small cache of SHA-256 digests of header
/// values that verified, so a scraper's repeated header costs a hash, not a
/// bcrypt run (~50 ms at cost 10). Thread-safe.
class BasicAuth {
 public:
  /// `users`: user name -> bcrypt hash. Empty: every request is allowed.
  explicit BasicAuth(std::map<std::string, std::string> users);

  bool enabled() const { return !users_.empty(); }
  /// True if `header` (the Authorization value, may be empty) names a user
  /// whose hash the password matches.
  bool Check(std::string_view header);

 private:
  using Digest = std::array<unsigned char, 32>;
  bool Verify(const OpenSslApi& ssl, const std::string& user, const std::string& password) const;

  std::map<std::string, std::string> users_;
  std::mutex mutex_;
  std::vector<Digest> verified_;  // digests of accepted header values, bounded
};

}  // namespace lle
