#include "llm_log_exporter/exposition/basic_auth.h"

#include <memory>
#include <utility>

#include "llm_log_exporter/core/ascii.h"
#include "openssl_api.h"

namespace lle {
namespace {

// A scraper or two sends the same header every few seconds; a bound keeps a
// client cycling through valid passwords from growing the cache without end.
constexpr std::size_t kMaxCachedHeaders = 64;

// Standard base64 (RFC 4648 §4) with padding; false on anything else.
bool DecodeBase64(std::string_view in, std::string* out) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (in.size() % 4 != 0) return false;
  out->clear();
  for (std::size_t i = 0; i < in.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int j = 0; j < 4; ++j) {
      const char c = in[i + j];
      if (c == '=' && i + 4 == in.size() && j >= 2) {
        v[j] = 0;
        ++pad;
      } else if (pad > 0 || (v[j] = value(c)) < 0) {
        return false;
      }
    }
    const unsigned bits = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out->push_back(static_cast<char>(bits >> 16));
    if (pad < 2) out->push_back(static_cast<char>((bits >> 8) & 0xff));
    if (pad < 1) out->push_back(static_cast<char>(bits & 0xff));
  }
  return true;
}

bool Sha256(const OpenSslApi& ssl, std::string_view data, unsigned char* digest) {
  unsigned int size = 0;
  return ssl.EVP_Digest(data.data(), data.size(), digest, &size, ssl.EVP_sha256(), nullptr) == 1 &&
         size == 32;
}

}  // namespace

BasicAuth::BasicAuth(std::map<std::string, std::string> users) : users_(std::move(users)) {}

bool BasicAuth::Verify(const OpenSslApi& ssl, const std::string& user,
                       const std::string& password) const {
  auto it = users_.find(user);
  // An unknown user costs a bcrypt run too, so timing does not tell which
  // user names exist.
  const std::string& hash = it != users_.end() ? it->second : users_.begin()->second;
  // crypt_data is ~32 KiB: on the heap, as HTTP worker stacks are small.
  auto data = std::make_unique<crypt_data>();
  const char* result = ssl.crypt_r(password.c_str(), hash.c_str(), data.get());
  if (result == nullptr || result[0] == '*') return false;
  const std::string_view computed(result);
  const bool match = computed.size() == hash.size() &&
                     ssl.CRYPTO_memcmp(computed.data(), hash.data(), hash.size()) == 0;
  return match && it != users_.end();
}

bool BasicAuth::Check(std::string_view header) const {
  if (users_.empty()) return true;
  constexpr std::string_view kScheme = "basic ";
  if (header.size() <= kScheme.size() ||
      !EqualsIgnoreCase(header.substr(0, kScheme.size()), kScheme)) {
    return false;
  }
  // Loaded by HttpServer::Start, which refuses to start without it.
  std::string error;
  const OpenSslApi* ssl = LoadOpenSslApi(&error);
  if (ssl == nullptr) return false;
  Digest digest{};
  if (!Sha256(*ssl, header, digest.data())) return false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    bool hit = false;
    // Every entry compared in constant time, and all of them, so the time
    // taken says nothing about which entry (if any) matched.
    for (const Digest& d : verified_) {
      hit |= ssl->CRYPTO_memcmp(d.data(), digest.data(), d.size()) == 0;
    }
    if (hit) return true;
  }
  std::string decoded;
  if (!DecodeBase64(header.substr(kScheme.size()), &decoded)) return false;
  const std::size_t colon = decoded.find(':');
  if (colon == std::string::npos) return false;
  // bcrypt only reads a password up to its first NUL: refuse one that has it,
  // or "secret\0anything" would pass as "secret".
  if (decoded.find('\0') != std::string::npos) return false;
  if (!Verify(*ssl, decoded.substr(0, colon), decoded.substr(colon + 1))) return false;
  std::lock_guard<std::mutex> lock(mutex_);
  if (verified_.size() >= kMaxCachedHeaders) verified_.clear();
  verified_.push_back(digest);
  return true;
}

}  // namespace lle
