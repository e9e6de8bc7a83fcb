/* Built as "libssl.so" (its soname too) next to the executable: see
 * LoadOpenSsl3Compat in src/exposition/http_server.cc. Everything but this
 * one function comes from its dependency, the system's libssl.so.3. */
#include <openssl/ssl.h>

/* OpenSSL 3 renamed it SSL_get1_peer_certificate (same reference counting)
 * and kept the old name as a macro only. */
#undef SSL_get_peer_certificate
X509 *SSL_get_peer_certificate(const SSL *ssl);
X509 *SSL_get_peer_certificate(const SSL *ssl) { return SSL_get1_peer_certificate(ssl); }
