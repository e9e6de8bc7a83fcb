#include "llm_log_exporter/exposition/http_server.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <dlfcn.h>
#include <limits.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <exception>
#include <mutex>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "connection_deadlines.h"
#include "llm_log_exporter/exposition/text_format.h"
#include "openssl_api.h"

namespace lle {
namespace {

// civetweb reports why start-up failed ("cannot bind to ...: Address already in
// use") only through the log callback, on the thread that calls mg_start2; the
// first message is the cause, later ones are generic.
thread_local std::string first_log_message;

constexpr std::size_t kReadBytes = 64 * 1024;
constexpr std::size_t kKeptBufferBytes = 4 * 1024 * 1024;

int LogCivetweb(const mg_connection*, const char* message) {
  if (first_log_message.empty()) first_log_message = message;
  spdlog::debug("http: {}", message);
  return 1;  // handled: civetweb prints nothing itself
}

void InitCivetwebOnce() {
  static std::once_flag once;
  std::call_once(once, [] { mg_init_library(0); });
}

// Debian 12's civetweb 1.15 was built for the OpenSSL 1.1 API and dlopen()s
// "libssl.so" and "libcrypto.so" at run time, asking for SSL_get_peer_certificate,
// which OpenSSL 3 only has as a macro: TLS start-up fails ("cannot find
// SSL_get_peer_certificate"). Two tiny libraries built with this project
// (src/exposition/civetweb_openssl3/), whose sonames are exactly those names,
// fix that: once loaded here, civetweb's dlopen() finds them by soname; they
// hand on to the system's libssl.so.3/libcrypto.so.3 and add the one missing
// function. Looked for next to the executable (build tree) or in its
// installed library directory. Empty on success, else why not.
std::string LoadOpenSsl3Compat() {
  char exe[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return "cannot find the executable's directory";
  exe[n] = '\0';
  std::string dir(exe);
  dir.erase(dir.rfind('/'));
  std::string tried;
  for (const std::string& sub :
       {std::string("/civetweb-openssl3"), std::string("/") + LLE_OPENSSL3_COMPAT_RELDIR}) {
    const std::string ssl = dir + sub + "/libssl.so";
    const std::string crypto = dir + sub + "/libcrypto.so";
    if (access(ssl.c_str(), R_OK) != 0) {
      tried += (tried.empty() ? "" : ", ") + ssl;
      continue;
    }
    // Kept loaded for the life of the process, as civetweb keeps its handle.
    if (dlopen(crypto.c_str(), RTLD_NOW | RTLD_GLOBAL) == nullptr ||
        dlopen(ssl.c_str(), RTLD_NOW | RTLD_GLOBAL) == nullptr) {
      return dlerror();
    }
    return "";
  }
  return "OpenSSL 3 compatibility libraries not found (looked for " + tried + ")";
}

// Accepts any client certificate: RequestClientCert and RequireAnyClientCert
// ask for one without checking who signed it (as Go's tls does).
int AcceptAnyCertificate(int, X509_STORE_CTX*) { return 1; }

std::string OpenSslError(const OpenSslApi& ssl) {
  const unsigned long code = ssl.ERR_get_error();
  ssl.ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char text[256];
  ssl.ERR_error_string_n(code, text, sizeof text);
  return text;
}

}  // namespace

HttpServer::HttpServer(HttpServerOptions options, Gatherer gather)
    : options_(std::move(options)),
      gather_(std::move(gather)),
      basic_auth_(options_.web.basic_auth_users),
      deadlines_(std::make_unique<ConnectionDeadlines>()) {
  for (const auto& [name, value] : options_.web.headers) {
    common_headers_ += name + ": " + value + "\r\n";
  }
}

void HttpServer::Send(mg_connection* conn, int code, const char* reason, const char* content_type,
                      std::string_view body, bool head, const std::string& extra_headers) {
  // One write for head and body: two small writes wait on the peer's delayed
  // ACK (Nagle), about 40 ms per answer on a keep-alive connection.
  std::string out = "HTTP/1.1 " + std::to_string(code) + " " + reason +
                    "\r\nContent-Type: " + content_type +
                    "\r\nContent-Length: " + std::to_string(body.size()) +
                    "\r\nCache-Control: no-store\r\n" + common_headers_ + extra_headers + "\r\n";
  if (!head) out.append(body);
  mg_write(conn, out.data(), out.size());
}

void HttpServer::EndRequest(const mg_connection* conn, int) {
  // Called after civetweb has drained what the handler left of the body, and
  // (connection_close) before it closes the socket: never later than either.
  auto* self = static_cast<HttpServer*>(mg_get_user_data(mg_get_context(conn)));
  self->deadlines_->Disarm(conn);
}

int HttpServer::InitTls(void* ssl_ctx, void* self) {
  auto* server = static_cast<HttpServer*>(self);
  // 1: the context is complete, civetweb adds nothing; -1: start-up fails.
  return server->ConfigureTls(ssl_ctx, &server->tls_error_) ? 1 : -1;
}

bool HttpServer::ConfigureTls(void* ssl_ctx, std::string* error) {
  SSL_CTX* ctx = static_cast<SSL_CTX*>(ssl_ctx);
  const TlsServerConfig& tls = *options_.web.tls;
  const OpenSslApi* api = LoadOpenSslApi(error);  // Start() loaded it
  if (api == nullptr) return false;
  const OpenSslApi& ssl = *api;
  ssl.ERR_clear_error();
  if (ssl.SSL_CTX_use_certificate_chain_file(ctx, tls.cert_file.c_str()) != 1) {
    *error = "tls_server_config.cert_file '" + tls.cert_file + "': " + OpenSslError(ssl);
    return false;
  }
  if (ssl.SSL_CTX_use_PrivateKey_file(ctx, tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    const bool mismatch = ERR_GET_REASON(ssl.ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
    *error = "tls_server_config.key_file '" + tls.key_file +
             "': " + (mismatch ? "does not match the certificate of cert_file" : OpenSslError(ssl));
    ssl.ERR_clear_error();
    return false;
  }
  if (ssl.SSL_CTX_check_private_key(ctx) != 1) {
    *error = "tls_server_config.key_file '" + tls.key_file +
             "': does not match the certificate of cert_file";
    return false;
  }
  const int min = tls.min_version == TlsVersion::kTls13 ? TLS1_3_VERSION : TLS1_2_VERSION;
  if (ssl.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, min, nullptr) != 1) {
    *error = "tls_server_config.min_version: " + OpenSslError(ssl);
    return false;
  }
  // civetweb 1.15, built for OpenSSL 1.1, set option bits by their 1.1 numbers
  // before calling us, and OpenSSL 3 gave several of those bits new meanings:
  // its SSL_OP_ALL (0x80000BFF) now holds SSL_OP_NO_EXTENDED_MASTER_SECRET
  // (TLS 1.2 without extended master secret), SSL_OP_DISABLE_TLSEXT_CA_NAMES
  // (an empty certificate_authorities list in the CertificateRequest, invalid
  // in TLS 1.3: Go clients, Prometheus among them, fail with "tls: unexpected
  // message"), SSL_OP_ENABLE_KTLS, SSL_OP_ALLOW_CLIENT_RENEGOTIATION and more.
  // So the options are set here whole: OpenSSL 3's defaults for a new context
  // (no compression, middlebox compatibility) plus what civetweb meant.
  ssl.SSL_CTX_clear_options(ctx, ~std::uint64_t{0});
  ssl.SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_ENABLE_MIDDLEBOX_COMPAT |
                                   SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
  // Sessions resumed with a client certificate need an id context.
  static const unsigned char kSessionContext[] = "llm_log_exporter";
  ssl.SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
  if (!tls.client_ca_file.empty()) {
    if (ssl.SSL_CTX_load_verify_locations(ctx, tls.client_ca_file.c_str(), nullptr) != 1) {
      *error =
          "tls_server_config.client_ca_file '" + tls.client_ca_file + "': " + OpenSslError(ssl);
      return false;
    }
    // Tells clients which CAs we accept, so they pick the right certificate.
    STACK_OF(X509_NAME)* names = ssl.SSL_load_client_CA_file(tls.client_ca_file.c_str());
    if (names == nullptr) {
      *error =
          "tls_server_config.client_ca_file '" + tls.client_ca_file + "': no CA certificate in it";
      return false;
    }
    ssl.SSL_CTX_set_client_CA_list(ctx, names);
  }
  switch (tls.client_auth) {
    case ClientAuth::kNoClientCert:
      ssl.SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
      break;
    case ClientAuth::kRequestClientCert:
      ssl.SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, AcceptAnyCertificate);
      break;
    case ClientAuth::kRequireAnyClientCert:
      ssl.SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                             AcceptAnyCertificate);
      break;
    case ClientAuth::kVerifyClientCertIfGiven:
      ssl.SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
      break;
    case ClientAuth::kRequireAndVerifyClientCert:
      ssl.SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
      break;
  }
  return true;
}

HttpServer::~HttpServer() { Stop(); }

bool HttpServer::Start(std::string* error) {
  InitCivetwebOnce();
  if (options_.address.ipv6 && mg_check_feature(8) == 0) {
    *error = "cannot listen on " + options_.address.Format(options_.address.port) +
             ": this build's civetweb has no IPv6 support; use an IPv4 address";
    return false;
  }
  const bool tls = options_.web.tls.has_value();
  if (tls || basic_auth_.enabled()) {
    std::string why;
    if (LoadOpenSslApi(&why) == nullptr) {
      *error =
          std::string(tls ? "tls_server_config" : "basic_auth_users") + " needs OpenSSL: " + why;
      return false;
    }
  }
  // Not fatal here: a civetweb built for OpenSSL 3 needs no help; if this one
  // does, mg_start2 fails below and the message says why.
  const std::string compat = tls ? LoadOpenSsl3Compat() : "";
  first_log_message.clear();
  tls_error_.clear();
  // "s": this port speaks only TLS.
  const std::string ports = options_.address.ToCivetweb() + (tls ? "s" : "");
  const std::string threads = std::to_string(options_.max_connections);
  const std::string timeout = std::to_string(options_.request_timeout_ms);
  const char* config[] = {"listening_ports",
                          ports.c_str(),
                          "num_threads",
                          threads.c_str(),
                          "connection_queue",
                          threads.c_str(),
                          "request_timeout_ms",
                          timeout.c_str(),
                          "enable_keep_alive",
                          "yes",
                          "tcp_nodelay",
                          "1",  // answers go out at once
                          nullptr};
  mg_callbacks callbacks{};
  callbacks.log_message = LogCivetweb;
  if (tls) callbacks.init_ssl = &HttpServer::InitTls;
  callbacks.end_request = &HttpServer::EndRequest;
  callbacks.connection_close = [](const mg_connection* conn) { EndRequest(conn, 0); };
  mg_init_data init{};
  init.callbacks = &callbacks;
  init.user_data = this;
  init.configuration_options = config;
  char text[256] = {0};
  unsigned code = 0;
  mg_error_data err{};
  err.code = &code;
  err.text = text;
  err.text_buffer_size = sizeof text;
  ctx_ = mg_start2(&init, &err);
  if (ctx_ == nullptr) {
    if (tls && tls_error_.empty() &&
        (first_log_message.find("SSL") != std::string::npos ||
         first_log_message.find("ssl") != std::string::npos)) {
      tls_error_ = "tls_server_config: cannot start TLS: " + first_log_message +
                   (compat.empty() ? "" : " (" + compat + ")");
    }
    *error = !tls_error_.empty() ? tls_error_
             : !first_log_message.empty()
                 ? first_log_message
                 : "cannot listen on " + options_.address.Format(options_.address.port) + ": " +
                       (text[0] ? text : "civetweb failed to start");
    return false;
  }
  mg_server_port bound[4]{};
  if (mg_get_server_ports(ctx_, 4, bound) > 0) port_ = bound[0].port;
  mg_set_request_handler(ctx_, "/", &HttpServer::Handle, this);
  return true;
}

void HttpServer::Stop() {
  if (ctx_ == nullptr) return;
  // civetweb's listener notices the stop flag only when poll() returns, which
  // it does every 2 s (SOCKET_TIMEOUT_QUANTUM) or on a new connection: knock
  // on our own port until mg_stop() returns so shutdown takes milliseconds.
  std::atomic<bool> stopped{false};
  std::thread knocker([this, &stopped] {
    const std::string host = options_.address.host.empty() ? "127.0.0.1" : options_.address.host;
    while (!stopped.load()) {
      const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0) return;
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(static_cast<std::uint16_t>(port_));
      inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
      connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
      close(fd);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  mg_stop(ctx_);
  stopped.store(true);
  knocker.join();
  ctx_ = nullptr;
}

int HttpServer::Handle(mg_connection* conn, void* self) {
  try {
    return static_cast<HttpServer*>(self)->HandleRequest(conn);
  } catch (const std::exception& e) {
    spdlog::error("http: request failed: {}", e.what());
    static_cast<HttpServer*>(self)->Send(conn, 500, "Internal Server Error", "text/plain",
                                         "internal error\n", false);
    return 500;
  }
}

int HttpServer::HandleRequest(mg_connection* conn) {
  const mg_request_info* info = mg_get_request_info(conn);
  const std::string_view method = info->request_method ? info->request_method : "";
  const std::string_view uri = info->local_uri ? info->local_uri : "";
  const bool head = method == "HEAD";
  // A request with a body: the handler, or civetweb after it, reads it all,
  // however slowly it comes, unless a deadline cuts it (disarmed in EndRequest).
  if (info->content_length > 0 || mg_get_header(conn, "Transfer-Encoding") != nullptr) {
    const int fd = FindConnectionSocket(port_, info->remote_addr, info->remote_port);
    if (fd >= 0) {
      deadlines_->Arm(
          conn, fd,
          std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.body_timeout_ms));
    }
  }
  // With --ingest.path=/ only writes go to ingest: GET / stays the landing page.
  const bool write = method == "POST" || method == "PUT";
  const bool ingest = !options_.ingest_path.empty() && uri == options_.ingest_path &&
                      (write || options_.ingest_path != "/");
  // Basic auth guards every path. Ingest with its own bearer token is the one
  // exception: one Authorization header cannot carry both, and the token
  // already guards it (see HttpServerOptions::ingest_has_own_auth).
  if (basic_auth_.enabled() && !(ingest && options_.ingest_has_own_auth)) {
    const char* authorization = mg_get_header(conn, "Authorization");
    if (!basic_auth_.Check(authorization != nullptr ? authorization : "")) {
      Send(conn, 401, "Unauthorized", "text/plain", "Unauthorized\n", head,
           "WWW-Authenticate: Basic realm=\"llm_log_exporter\", charset=\"UTF-8\"\r\n");
      return 401;
    }
  }
  if (ingest) {
    ServeIngest(conn);
    return 200;
  }
  if (uri == "/-/reload") {
    // As Prometheus does: POST or PUT only, and only when enabled.
    if (!options_.reload) {
      Send(conn, 403, "Forbidden", "text/plain",
           "Lifecycle API is not enabled (--web.enable-lifecycle)\n", head);
      return 403;
    }
    if (!write) {
      Send(conn, 405, "Method Not Allowed", "text/plain", "only POST and PUT\n", head,
           "Allow: POST, PUT\r\n");
      return 405;
    }
    const HttpReply reply = options_.reload();
    Send(conn, reply.status, reply.status < 300 ? "OK" : "Error", "text/plain; charset=utf-8",
         reply.body, false);
    return reply.status;
  }
  if (method != "GET" && !head) {
    Send(conn, 405, "Method Not Allowed", "text/plain", "only GET and HEAD\n", head,
         "Allow: GET, HEAD\r\n");
    return 405;
  }
  if (uri == options_.telemetry_path) {
    ServeMetrics(conn, head);
    return 200;
  }
  if (uri == "/-/healthy") {
    Send(conn, 200, "OK", "text/plain", "Healthy\n", head);
    return 200;
  }
  if (uri == "/-/ready") {
    if (ready_.load()) {
      Send(conn, 200, "OK", "text/plain", "Ready\n", head);
      return 200;
    }
    Send(conn, 503, "Service Unavailable", "text/plain", "Not ready\n", head);
    return 503;
  }
  if (uri == "/") {
    const std::string page =
        "<!DOCTYPE html><html><head><title>llm_log_exporter</title></head><body>"
        "<h1>llm_log_exporter</h1><p>Prometheus metrics from LLM inference server logs.</p>"
        "<ul><li><a href=\"" +
        options_.telemetry_path +
        "\">Metrics</a></li>"
        "<li><a href=\"/-/healthy\">Health</a></li><li><a href=\"/-/ready\">Readiness</a></li>"
        "</ul></body></html>\n";
    Send(conn, 200, "OK", "text/html; charset=utf-8", page, head);
    return 200;
  }
  Send(conn, 404, "Not Found", "text/plain", "not found\n", head);
  return 404;
}

void HttpServer::ServeIngest(mg_connection* conn) {
  const mg_request_info* info = mg_get_request_info(conn);
  IngestRequest request;
  request.method = info->request_method ? info->request_method : "";
  auto header = [conn](const char* name) {
    const char* value = mg_get_header(conn, name);
    return std::string(value != nullptr ? value : "");
  };
  request.content_type = header("Content-Type");
  request.content_encoding = header("Content-Encoding");
  request.authorization = header("Authorization");
  const std::size_t limit = options_.ingest_max_body_bytes;
  // Reused per server thread: a fresh buffer per request cost a page fault per
  // 4 KiB of body (large allocations come from mmap), more than parsing it.
  thread_local std::string body;
  body.clear();
  if (info->content_length > 0 && static_cast<std::size_t>(info->content_length) > limit) {
    request.body_too_large = true;  // refused before reading a byte of it
  } else {
    std::size_t size = 0;
    for (;;) {
      if (body.size() < size + kReadBytes) body.resize(size + kReadBytes);
      const int n = mg_read(conn, body.data() + size, kReadBytes);
      if (n < 0) request.body_incomplete = true;  // connection error or cut
      if (n <= 0) break;
      size += static_cast<std::size_t>(n);
      if (size > limit) {
        request.body_too_large = true;
        size = 0;
        break;
      }
    }
    body.resize(size);
    if (info->content_length > 0 && !request.body_too_large &&
        size < static_cast<std::size_t>(info->content_length)) {
      request.body_incomplete = true;
    }
  }
  request.body = body;
  const HttpReply reply = options_.ingest(request);
  // Keep a buffer for the next request, but not one that a rare huge body grew.
  if (body.capacity() > kKeptBufferBytes) std::string().swap(body);
  const char* reason = reply.status < 300 ? "OK" : "Error";
  Send(conn, reply.status, reason, "text/plain; charset=utf-8", reply.body,
       request.method == "HEAD", reply.extra_headers);
}

void HttpServer::ServeMetrics(mg_connection* conn, bool head) {
  const std::string body = SerializeText(gather_());
  const char* accept = mg_get_header(conn, "Accept-Encoding");
  if (accept != nullptr && AcceptsGzip(accept)) {
    Send(conn, 200, "OK", kTextContentType, Gzip(body), head,
         "Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n");
  } else {
    Send(conn, 200, "OK", kTextContentType, body, head, "Vary: Accept-Encoding\r\n");
  }
}

}  // namespace lle
