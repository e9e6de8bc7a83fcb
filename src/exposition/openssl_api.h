#pragma once

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <string>

namespace lle {

/// The libssl, libcrypto and libcrypt functions the web server calls, loaded
/// with dlopen() when TLS or basic auth is configured. Most deployments use
/// neither, and linking the libraries cost every start-up about 5 ms (40 %
/// of the dynamic loader's work) and 150 page faults. Each member is named,
/// and typed, after the function it points to. Immutable once loaded.
struct OpenSslApi {
  decltype(&::ERR_get_error) ERR_get_error;
  decltype(&::ERR_peek_last_error) ERR_peek_last_error;
  decltype(&::ERR_clear_error) ERR_clear_error;
  decltype(&::ERR_error_string_n) ERR_error_string_n;
  decltype(&::EVP_Digest) EVP_Digest;
  decltype(&::EVP_sha256) EVP_sha256;
  decltype(&::CRYPTO_memcmp) CRYPTO_memcmp;
  decltype(&::SSL_CTX_use_certificate_chain_file) SSL_CTX_use_certificate_chain_file;
  decltype(&::SSL_CTX_use_PrivateKey_file) SSL_CTX_use_PrivateKey_file;
  decltype(&::SSL_CTX_check_private_key) SSL_CTX_check_private_key;
  decltype(&::SSL_CTX_ctrl) SSL_CTX_ctrl;  // SSL_CTX_set_min_proto_version is a macro over it
  decltype(&::SSL_CTX_set_options) SSL_CTX_set_options;
  decltype(&::SSL_CTX_clear_options) SSL_CTX_clear_options;
  decltype(&::SSL_CTX_set_session_id_context) SSL_CTX_set_session_id_context;
  decltype(&::SSL_CTX_load_verify_locations) SSL_CTX_load_verify_locations;
  decltype(&::SSL_load_client_CA_file) SSL_load_client_CA_file;
  decltype(&::SSL_CTX_set_client_CA_list) SSL_CTX_set_client_CA_list;
  decltype(&::SSL_CTX_set_verify) SSL_CTX_set_verify;
  decltype(&::TLS_server_method) TLS_server_method;
  decltype(&::SSL_CTX_new) SSL_CTX_new;
  decltype(&::SSL_CTX_free) SSL_CTX_free;
  decltype(&::SSL_CTX_set_cert_cb) SSL_CTX_set_cert_cb;
  decltype(&::SSL_set_SSL_CTX) SSL_set_SSL_CTX;
  decltype(&::crypt_r) crypt_r;
};

/// The functions, loaded on the first call; nullptr, with `error` saying which
/// library or function is missing, if they cannot be. Thread-safe.
const OpenSslApi* LoadOpenSslApi(std::string* error);

}  // namespace lle
