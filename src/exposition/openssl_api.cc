#include "openssl_api.h"

#include <dlfcn.h>

#include <string>

#include "llm_log_exporter/core/load_once.h"

namespace lle {
namespace {

// The run-time names of the libraries the headers above belong to: OpenSSL 3
// (the build requires it) and libxcrypt.
constexpr const char* kCrypto = "libcrypto.so.3";
constexpr const char* kSsl = "libssl.so.3";
constexpr const char* kCrypt = "libcrypt.so.1";

// Sets `*fn` to the function `name` of `library`; false with `error` set if absent.
template <typename Fn>
bool Resolve(void* library, const char* name, Fn* fn, std::string* error) {
  *fn = reinterpret_cast<Fn>(dlsym(library, name));
  if (*fn == nullptr) {
    const char* why = dlerror();  // names the library and the symbol
    *error = why != nullptr ? why : std::string("no function ") + name;
  }
  return *fn != nullptr;
}

// Opened for the life of the process: the functions must stay valid.
void* Open(const char* name, std::string* error) {
  void* library = dlopen(name, RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    const char* why = dlerror();
    *error = std::string("cannot load ") + name +
             " (Debian packages libssl3, libcrypt1): " + (why != nullptr ? why : "unknown error");
  }
  return library;
}

bool Load(OpenSslApi* api, std::string* error) {
  void* crypto = Open(kCrypto, error);
  void* ssl = crypto != nullptr ? Open(kSsl, error) : nullptr;
  void* crypt = ssl != nullptr ? Open(kCrypt, error) : nullptr;
  if (crypt == nullptr) return false;
#define LLE_RESOLVE(library, fn) Resolve(library, #fn, &api->fn, error)
  return LLE_RESOLVE(crypto, ERR_get_error) && LLE_RESOLVE(crypto, ERR_peek_last_error) &&
         LLE_RESOLVE(crypto, ERR_clear_error) && LLE_RESOLVE(crypto, ERR_error_string_n) &&
         LLE_RESOLVE(crypto, EVP_Digest) && LLE_RESOLVE(crypto, EVP_sha256) &&
         LLE_RESOLVE(crypto, CRYPTO_memcmp) &&
         LLE_RESOLVE(ssl, SSL_CTX_use_certificate_chain_file) &&
         LLE_RESOLVE(ssl, SSL_CTX_use_PrivateKey_file) &&
         LLE_RESOLVE(ssl, SSL_CTX_check_private_key) && LLE_RESOLVE(ssl, SSL_CTX_ctrl) &&
         LLE_RESOLVE(ssl, SSL_CTX_set_options) && LLE_RESOLVE(ssl, SSL_CTX_clear_options) &&
         LLE_RESOLVE(ssl, SSL_CTX_set_session_id_context) &&
         LLE_RESOLVE(ssl, SSL_CTX_load_verify_locations) &&
         LLE_RESOLVE(ssl, SSL_load_client_CA_file) &&
         LLE_RESOLVE(ssl, SSL_CTX_set_client_CA_list) && LLE_RESOLVE(ssl, SSL_CTX_set_verify) &&
         LLE_RESOLVE(ssl, TLS_server_method) && LLE_RESOLVE(ssl, SSL_CTX_new) &&
         LLE_RESOLVE(ssl, SSL_CTX_free) && LLE_RESOLVE(ssl, SSL_CTX_set_cert_cb) &&
         LLE_RESOLVE(ssl, SSL_set_SSL_CTX) &&
         LLE_RESOLVE(crypt, crypt_r);
#undef LLE_RESOLVE
}

}  // namespace

const OpenSslApi* LoadOpenSslApi(std::string* error) { return LoadOnce(&Load, error); }

}  // namespace lle
