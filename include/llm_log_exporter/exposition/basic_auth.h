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
/// bcrypt run (~50 ms at cost 10). Thread-safe: Check() is const and may run
/// on several threads at once (the cache has its own mutex), so a server can
/// share one through a std::shared_ptr<const BasicAuth> and swap it for
/// another when the users change (the new one starts with an empty cache: a
/// header verified against the old hashes is checked again).
class BasicAuth {
 public:
  /// `users`: user name -> bcrypt hash. Empty: every request is allowed.
  explicit BasicAuth(std::map<std::string, std::string> users);

  bool enabled() const { return !users_.empty(); }
  /// True if `header` (the Authorization value, may be empty) names a user
  /// whose hash the password matches.
  bool Check(std::string_view header) const;

 private:
  using Digest = std::array<unsigned char, 32>;
  bool Verify(const OpenSslApi& ssl, const std::string& user, const std::string& password) const;

  const std::map<std::string, std::string> users_;
  mutable std::mutex mutex_;
  mutable std::vector<Digest>
      verified_;  // guarded by mutex_  // digests of accepted header values, bounded
};

}  // namespace lle
