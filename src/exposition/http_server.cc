#include "llm_log_exporter/exposition/http_server.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <dlfcn.h>
#include <limits.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
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
#include "tls_reloader.h"

namespace lle {
namespace {

// civetweb reports why start-up failed ("cannot bind to ...: Address already in
// use") only through the log callback, on the thread that calls mg_start2; the
// first message is the cause, later ones are generic.
thread_local std::string first_log_message;

// While connections wait in the listen backlog, how long one that holds a
// worker without a request in progress may go without receiving a byte (a
// client sends its request head in one go).
constexpr std::chrono::milliseconds kHeadGraceUnderLoad(20);
constexpr std::size_t kDiscardBytes = 16 * 1024;

// Logs a refusal at warning level at most once per 10 s (a hostile client
// must not flood the log), with the count of those not logged.
void LogRefusal(const std::string& what) {
  static std::mutex mutex;
  static std::chrono::steady_clock::time_point last;
  static long unlogged = 0;
  std::lock_guard<std::mutex> lock(mutex);
  const auto now = std::chrono::steady_clock::now();
  if (last != std::chrono::steady_clock::time_point() && now - last < std::chrono::seconds(10)) {
    ++unlogged;
    return;
  }
  if (unlogged > 0) {
    spdlog::warn("http: {} ({} more refusals in the last 10 s not logged)", what, unlogged);
  } else {
    spdlog::warn("http: {}", what);
  }
  last = now;
  unlogged = 0;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The path as Go's net/http sees it (percent escapes decoded, nothing else
// cleaned); false if an escape is malformed.
bool DecodePath(std::string_view raw, std::string* out) {
  out->clear();
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '%') {
      out->push_back(raw[i]);
      continue;
    }
    const int hi = i + 1 < raw.size() ? HexValue(raw[i + 1]) : -1;
    const int lo = i + 2 < raw.size() ? HexValue(raw[i + 2]) : -1;
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

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

bool SameTlsFiles(const TlsServerConfig& a, const TlsServerConfig& b) {
  return a.cert_file == b.cert_file && a.key_file == b.key_file &&
         a.client_ca_file == b.client_ca_file;
}

// Why `next` cannot replace `applied` without a restart; empty if it can.
std::string NeedsRestart(const WebConfig& applied, const WebConfig& next) {
  if (applied.tls.has_value() != next.tls.has_value()) {
    // civetweb makes its listening ports TLS or plain at start.
    return next.tls ? "tls_server_config: turning TLS on needs a restart"
                    : "tls_server_config: turning TLS off needs a restart";
  }
  if (applied.tls) {
    // A connection takes its verify mode and protocol versions from the
    // serving context when it is made; the handshake can only change its
    // certificate, key and CAs (HttpServer::SelectContext).
    if (applied.tls->client_auth != next.tls->client_auth) {
      return "tls_server_config.client_auth_type: a change needs a restart";
    }
    if (applied.tls->min_version != next.tls->min_version) {
      return "tls_server_config.min_version: a change needs a restart";
    }
  }
  if (!next.basic_auth_users.empty()) {
    std::string why;
    if (LoadOpenSslApi(&why) == nullptr) return "basic_auth_users needs OpenSSL: " + why;
  }
  return "";
}

}  // namespace

struct HttpServer::WebFollower {
  std::mutex mutex;
  FileIdentity seen;  // guarded: the file as last read (or tried)
  WebConfig applied;  // guarded: what is in force
};

HttpServer::Access::Access(const WebConfig& web) : basic_auth(web.basic_auth_users) {
  for (const auto& [name, value] : web.headers) headers += name + ": " + value + "\r\n";
}

HttpServer::HttpServer(HttpServerOptions options, Gatherer gather)
    : options_(std::move(options)),
      gather_(std::move(gather)),
      access_(std::make_shared<const Access>(options_.web)),
      reload_counts_(std::make_unique<ReloadCounts>()),
      deadlines_(std::make_unique<ConnectionDeadlines>(kHeadGraceUnderLoad)),
      ingest_workers_(
          std::max(1, options_.max_connections - std::max(1, options_.max_connections / 4))) {
  if (!options_.web_config_file.empty()) {
    web_follower_ = std::make_unique<WebFollower>();
    // The caller read the file just before: a change made in between is seen
    // only at the file's next change.
    web_follower_->seen = IdentifyFile(options_.web_config_file);
    web_follower_->applied = options_.web;
  }
}

void HttpServer::FollowWebConfig() {
  if (web_follower_ == nullptr) return;
  const std::string& path = options_.web_config_file;
  WebFollower& follower = *web_follower_;
  std::lock_guard<std::mutex> lock(follower.mutex);
  // Looked at under the lock: a look taken before another worker loaded a
  // change would be older than `seen` and load that change a second time.
  const FileIdentity now = IdentifyFile(path);
  if (now == follower.seen) return;
  // Recorded even if the file is refused: one try and one line per change.
  follower.seen = now;
  WebConfig next;
  std::string error;
  // A file rewritten in place is empty for a moment: an empty web config
  // (nothing configured: no basic auth) is taken only at start.
  if (now.error == 0 && now.size == 0) error = "the file is empty";
  if (!error.empty() || !LoadWebConfig(path, &next, &error)) {
    reload_counts_->Add(false);
    spdlog::error("web config: {} changed but does not load, everything stays as it was: {}", path,
                  error);
    return;
  }
  const std::string restart = NeedsRestart(follower.applied, next);
  if (!restart.empty()) {
    reload_counts_->Add(false);
    spdlog::error("web config: {} changed, refused, everything stays as it was: {}", path, restart);
    return;
  }
  // The new TLS paths first: they are the one part that can fail now.
  bool tls_ok = true;
  if (next.tls && !SameTlsFiles(*follower.applied.tls, *next.tls)) {
    tls_ok = tls_reloader_ != nullptr && tls_reloader_->Follow(*next.tls, &error);
  }
  const bool access_changed = next.basic_auth_users != follower.applied.basic_auth_users ||
                              next.headers != follower.applied.headers;
  if (access_changed) std::atomic_store(&access_, std::make_shared<const Access>(next));
  follower.applied = std::move(next);
  reload_counts_->Add(tls_ok);
  if (!tls_ok) {
    spdlog::error(
        "web config: {} reloaded, but its new TLS files do not load, new connections "
        "keep the previous certificate until they change: {}",
        path, error);
  } else {
    spdlog::info("web config: {} changed; reloaded ({} basic auth users)", path,
                 follower.applied.basic_auth_users.size());
  }
}

namespace {

// A response's status line and headers, the blank line after them included.
std::string ResponseHead(int code, const char* reason, const char* content_type,
                         std::size_t content_length, const std::string& access_headers,
                         const std::string& extra_headers) {
  return "HTTP/1.1 " + std::to_string(code) + " " + reason + "\r\nContent-Type: " + content_type +
         "\r\nContent-Length: " + std::to_string(content_length) +
         "\r\nCache-Control: no-store\r\n" + access_headers + extra_headers + "\r\n";
}

}  // namespace

void HttpServer::Send(mg_connection* conn, int code, const char* reason, const char* content_type,
                      std::string_view body, bool head, const std::string& extra_headers) {
  // One write for head and body: two small writes wait on the peer's delayed
  // ACK (Nagle), about 40 ms per answer on a keep-alive connection.
  std::string out = ResponseHead(code, reason, content_type, body.size(), current_access()->headers,
                                 extra_headers);
  if (!head) out.append(body);
  mg_write(conn, out.data(), out.size());
}

int HttpServer::Refuse(mg_connection* conn, int code, const char* reason, std::string_view body,
                       bool head, const std::string& extra_headers) {
  // civetweb would read the rest of the body (however slowly it comes) to
  // keep the connection: closing it instead frees the worker now.
  mg_disable_connection_keep_alive(conn);
  Send(conn, code, reason, "text/plain", body, head, extra_headers + "Connection: close\r\n");
  return code;
}

void HttpServer::EndRequest(const mg_connection* conn, int) {
  // Called after the handler (and any drain civetweb does), before the next
  // request head is awaited.
  auto* self = static_cast<HttpServer*>(mg_get_user_data(mg_get_context(conn)));
  self->deadlines_->End(conn);
}

int HttpServer::InitConnection(const mg_connection* conn, void**) {
  // In the worker, once it holds the connection (after a TLS handshake),
  // before it reads a request head.
  // Its peer is not known yet (civetweb has no request info before a head).
  auto* self = static_cast<HttpServer*>(mg_get_user_data(mg_get_context(conn)));
  self->deadlines_->Attach(conn);
  return 0;
}

void HttpServer::CloseConnection(const mg_connection* conn) {
  // Before civetweb closes the socket: never later.
  auto* self = static_cast<HttpServer*>(mg_get_user_data(mg_get_context(conn)));
  self->deadlines_->Close(conn);
}

int HttpServer::InitTls(void* ssl_ctx, void* self) {
  auto* server = static_cast<HttpServer*>(self);
  // The files as they are before they are read: a change after this is loaded
  // at the next handshake.
  server->tls_reloader_->Snapshot();
  // 1: the context is complete, civetweb adds nothing; -1: start-up fails.
  if (!server->ConfigureTls(*server->options_.web.tls, ssl_ctx, &server->tls_error_)) return -1;
  std::string error;
  const OpenSslApi* api = LoadOpenSslApi(&error);  // Start() loaded it
  if (api == nullptr) return -1;
  // Called after the ClientHello is read, before the certificate is chosen
  // (civetweb's own server-name callback runs before it and sets no context
  // but this one). Copied into each connection's SSL at SSL_new.
  api->SSL_CTX_set_cert_cb(static_cast<SSL_CTX*>(ssl_ctx), &HttpServer::SelectContext, server);
  return 1;
}

int HttpServer::SelectContext(SSL* ssl, void* self) {
  auto* server = static_cast<HttpServer*>(self);
  // New cert_file/key_file paths apply from this connection on.
  server->FollowWebConfig();
  const std::shared_ptr<SSL_CTX> current = server->tls_reloader_->Current();
  if (current == nullptr) return 1;  // the serving context is current
  std::string error;
  const OpenSslApi* api = LoadOpenSslApi(&error);
  // The connection takes the context's certificate, key and chain, and (through
  // it) its client CA names and verify store; its options, protocol versions
  // and verify mode stay those it was made with, the same in both contexts. It
  // holds a reference: the context lives as long as the connection. On failure
  // (out of memory) the connection keeps the serving context.
  if (api != nullptr) api->SSL_set_SSL_CTX(ssl, current.get());
  return 1;
}

std::vector<Family> HttpServer::CollectReloads() const {
  std::vector<Family> families;
  if (tls_reloader_ == nullptr && web_follower_ == nullptr) return families;
  const ReloadCounts::Snapshot counts = reload_counts_->Get();
  Family reloads;
  reloads.name = "llm_log_exporter_web_config_reloads_total";
  reloads.help =
      "Reloads of --web.config.file, or of the TLS files it names, after they changed on disk, "
      "by outcome";
  reloads.type = MetricType::kCounter;
  for (const auto& [outcome, value] :
       {std::pair<const char*, std::uint64_t>{"success", counts.successes},
        std::pair<const char*, std::uint64_t>{"failure", counts.failures}}) {
    Series metric;
    metric.labels.push_back({"outcome", outcome});
    metric.value = static_cast<double>(value);
    reloads.series.push_back(std::move(metric));
  }
  Family last;
  last.name = "llm_log_exporter_web_config_last_reload_successful";
  last.help =
      "1 if the last reload of --web.config.file or its TLS files succeeded, 0 if what changed "
      "was refused and the previous web config or certificate is still in use";
  last.type = MetricType::kGauge;
  Series metric;
  metric.value = counts.last_successful ? 1 : 0;
  last.series.push_back(std::move(metric));
  families.push_back(std::move(reloads));
  families.push_back(std::move(last));
  return families;
}

bool HttpServer::ConfigureTls(const TlsServerConfig& tls, void* ssl_ctx, std::string* error) {
  SSL_CTX* ctx = static_cast<SSL_CTX*>(ssl_ctx);
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
  if (options_.addresses.empty()) {
    *error = "no address to listen on";
    return false;
  }
  for (const ListenAddress& address : options_.addresses) {
    if (address.ipv6 && mg_check_feature(8) == 0) {
      *error = "cannot listen on " + address.Format(address.port) +
               ": this build's civetweb has no IPv6 support; use an IPv4 address";
      return false;
    }
  }
  const bool tls = options_.web.tls.has_value();
  if (tls || !options_.web.basic_auth_users.empty()) {
    std::string why;
    if (LoadOpenSslApi(&why) == nullptr) {
      *error =
          std::string(tls ? "tls_server_config" : "basic_auth_users") + " needs OpenSSL: " + why;
      return false;
    }
  }
  if (tls) {
    std::string why;
    tls_reloader_ = std::make_unique<TlsReloader>(
        *LoadOpenSslApi(&why), *options_.web.tls,
        [this](const TlsServerConfig& files, SSL_CTX* ctx, std::string* message) {
          return ConfigureTls(files, ctx, message);
        },
        reload_counts_.get());
  }
  // Not fatal here: a civetweb built for OpenSSL 3 needs no help; if this one
  // does, mg_start2 fails below and the message says why.
  const std::string compat = tls ? LoadOpenSsl3Compat() : "";
  first_log_message.clear();
  tls_error_.clear();
  // "s": this port speaks only TLS.
  std::string ports;
  for (const ListenAddress& address : options_.addresses) {
    ports += (ports.empty() ? "" : ",") + address.ToCivetweb() + (tls ? "s" : "");
  }
  const std::string threads = std::to_string(options_.max_connections);
  const std::string timeout = std::to_string(options_.request_timeout_ms);
  // Room in the kernel for a burst of connections: a full backlog drops SYNs,
  // and the client retries only after 1 s, 3 s, 7 s...
  const std::string backlog = "4096";  // the kernel caps it at net.core.somaxconn
  const char* config[] = {"listening_ports", ports.c_str(), "num_threads", threads.c_str(),
                          "connection_queue", threads.c_str(), "request_timeout_ms",
                          timeout.c_str(), "enable_keep_alive", "yes", "tcp_nodelay",
                          "1",  // answers go out at once
                          "listen_backlog", backlog.c_str(),
                          // The raw path: civetweb's decoding cuts "/metrics%00" to "/metrics".
                          "decode_url", "no", nullptr};
  mg_callbacks callbacks{};
  callbacks.log_message = LogCivetweb;
  if (tls) callbacks.init_ssl = &HttpServer::InitTls;
  callbacks.end_request = &HttpServer::EndRequest;
  callbacks.connection_close = &HttpServer::CloseConnection;
  callbacks.init_connection = &HttpServer::InitConnection;
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
                 : "cannot listen on " + FormatAll(options_.addresses, {}) + ": " +
                       (text[0] ? text : "civetweb failed to start");
    return false;
  }
  // In the order of listening_ports, one per address.
  std::vector<mg_server_port> bound(options_.addresses.size());
  const int count = mg_get_server_ports(ctx_, static_cast<int>(bound.size()), bound.data());
  ports_.clear();
  for (int i = 0; i < count; ++i) ports_.push_back(bound[static_cast<std::size_t>(i)].port);
  if (!ports_.empty()) port_.store(ports_[0]);
  deadlines_->Listen(ports_);
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
    // One listening socket is enough: civetweb polls them all at once.
    const ListenAddress& first = options_.addresses.front();
    const std::string host = first.host.empty() ? "127.0.0.1" : first.host;
    while (!stopped.load()) {
      const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0) return;
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(static_cast<std::uint16_t>(port_.load()));
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
  deadlines_->BeginRequest(conn, info->remote_addr, info->remote_port);
  // A changed web config applies from this request on (after BeginRequest:
  // a reload takes milliseconds, and the connection is not idle meanwhile).
  FollowWebConfig();
  const std::shared_ptr<const Access> access = current_access();
  const std::string_view method = info->request_method ? info->request_method : "";
  const bool head = method == "HEAD";
  std::string uri;
  const bool path_ok = DecodePath(info->local_uri_raw ? info->local_uri_raw : "", &uri);
  // With --ingest.path=/ only writes go to ingest: GET / stays the landing page.
  const bool write = method == "POST" || method == "PUT";
  const bool ingest = path_ok && !options_.ingest_path.empty() && uri == options_.ingest_path &&
                      (write || options_.ingest_path != "/");
  // Refusals on the ingest path are counted by the endpoint.
  auto refuse = [&](int code, const char* reason, std::string_view body) {
    if (ingest && options_.ingest_refused) options_.ingest_refused(code);
    return Refuse(conn, code, reason, body, head);
  };
  // Framing that a proxy in front may read differently (request smuggling):
  // refused, as Go's net/http does.
  int content_lengths = 0;
  int transfer_encodings = 0;
  for (int i = 0; i < info->num_headers; ++i) {
    const char* name = info->http_headers[i].name;
    content_lengths += mg_strcasecmp(name, "Content-Length") == 0 ? 1 : 0;
    transfer_encodings += mg_strcasecmp(name, "Transfer-Encoding") == 0 ? 1 : 0;
  }
  if (content_lengths > 1 || transfer_encodings > 1 ||
      (content_lengths > 0 && transfer_encodings > 0)) {
    LogRefusal(
        std::string("refused a request with ambiguous framing (") +
        (content_lengths > 1 ? "Content-Length twice" : "Content-Length and Transfer-Encoding") +
        ") from " + info->remote_addr);
    return refuse(400, "Bad Request",
                  "Content-Length and Transfer-Encoding must not be repeated or combined\n");
  }
  if (!path_ok) return refuse(400, "Bad Request", "malformed percent escape in the path\n");
  const char* expect = mg_get_header(conn, "Expect");
  if (expect != nullptr && mg_strcasecmp(expect, "100-continue") != 0) {
    return refuse(417, "Expectation Failed", "only Expect: 100-continue\n");
  }
  const bool has_body = transfer_encodings > 0 || info->content_length > 0;
  if (ingest) return ServeIngest(conn, head);
  // No other path reads a body: one sent anyway is not waited for.
  if (has_body) {
    LogRefusal(std::string("refused a request body on a path that takes none, from ") +
               info->remote_addr);
    if (method != "GET" && !head && uri != "/-/reload") {
      return Refuse(conn, 405, "Method Not Allowed", "only GET and HEAD\n", head,
                    "Allow: GET, HEAD\r\n");
    }
    return Refuse(conn, 413, "Payload Too Large", "this path takes no request body\n", head);
  }
  // Basic auth guards every path. Ingest with its own bearer token is the one
  // exception: one Authorization header cannot carry both, and the token
  // already guards it (see HttpServerOptions::ingest_has_own_auth).
  if (access->basic_auth.enabled()) {
    const char* authorization = mg_get_header(conn, "Authorization");
    if (!access->basic_auth.Check(authorization != nullptr ? authorization : "")) {
      Send(conn, 401, "Unauthorized", "text/plain", "Unauthorized\n", head,
           "WWW-Authenticate: Basic realm=\"llm_log_exporter\", charset=\"UTF-8\"\r\n");
      return 401;
    }
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
  if (uri == "/" && options_.landing_page) {
    Send(conn, 200, "OK", "text/html; charset=utf-8", options_.landing_page(), head);
    return 200;
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

int HttpServer::ServeIngest(mg_connection* conn, bool head) {
  const mg_request_info* info = mg_get_request_info(conn);
  // Refusals made here, before the endpoint sees the request, are counted by it.
  auto refuse = [&](int code, const char* reason, std::string_view body,
                    const std::string& extra_headers = {}) {
    if (options_.ingest_refused) options_.ingest_refused(code);
    return Refuse(conn, code, reason, body, head, extra_headers);
  };
  const std::shared_ptr<const Access> access = current_access();
  if (access->basic_auth.enabled() && !options_.ingest_has_own_auth) {
    const char* authorization = mg_get_header(conn, "Authorization");
    if (!access->basic_auth.Check(authorization != nullptr ? authorization : "")) {
      return refuse(401, "Unauthorized", "Unauthorized\n",
                    "WWW-Authenticate: Basic realm=\"llm_log_exporter\", charset=\"UTF-8\"\r\n");
    }
  }
  // Workers kept for scrapes: ingest never holds all of them.
  struct Release {
    std::atomic<int>& active;
    ~Release() { active.fetch_sub(1); }
  };
  if (ingest_active_.fetch_add(1) >= ingest_workers_) {
    ingest_active_.fetch_sub(1);
    LogRefusal("ingest: all the workers it may use are busy; answering 503");
    return refuse(503, "Service Unavailable", "ingest busy, retry\n", "Retry-After: 1\r\n");
  }
  const Release release{ingest_active_};
  IngestRequest request;
  request.method = info->request_method ? info->request_method : "";
  auto header = [conn](const char* name) {
    const char* value = mg_get_header(conn, name);
    return std::string(value != nullptr ? value : "");
  };
  request.content_type = header("Content-Type");
  request.content_encoding = header("Content-Encoding");
  request.authorization = header("Authorization");
  const bool chunked = mg_get_header(conn, "Transfer-Encoding") != nullptr;
  request.content_length = chunked ? -1 : std::max(0LL, info->content_length);
  const bool expect_continue = mg_get_header(conn, "Expect") != nullptr;  // checked: 100-continue

  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  std::size_t received = 0;
  bool asked = false;  // 100 Continue sent, or not needed
  enum { kReading, kEnded, kFailed } state = request.content_length == 0 ? kEnded : kReading;
  // The body must keep up with the minimum rate after a first request timeout,
  // and be whole within the body timeout.
  auto deadline = [&] {
    std::chrono::milliseconds allowed(options_.body_timeout_ms);
    if (options_.body_min_bytes_per_second > 0) {
      allowed = std::min(allowed, std::chrono::milliseconds(
                                      options_.request_timeout_ms +
                                      static_cast<long long>(received * 1000 /
                                                             options_.body_min_bytes_per_second)));
    }
    return start + allowed;
  };
  int fd = -2;  // the socket, looked for on the first read (-1: not found)
  const BodyReader read = [&](char* data, std::size_t size) -> long {
    if (state != kReading) return state == kEnded ? 0 : -1;
    if (expect_continue && !asked) {
      static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
      mg_write(conn, kContinue, sizeof kContinue - 1);
    }
    asked = true;
    for (;;) {
      const Clock::time_point until = deadline();
      if (Clock::now() >= until) break;
      if (fd == -2) fd = FindConnectionSocket(ports_, info->remote_addr, info->remote_port);
      if (fd >= 0) deadlines_->Arm(conn, fd, until);  // cuts a read that waits past it
      const int n = mg_read(conn, data, std::min<std::size_t>(size, 1 << 30));
      if (n > 0) {
        received += static_cast<std::size_t>(n);
        return n;
      }
      if (n < 0) break;
      // 0: the end of the body, or (with a length still owed) a read that
      // waited request_timeout_ms for nothing: wait on, within the deadline.
      if (request.content_length < 0 ||
          received >= static_cast<std::size_t>(request.content_length)) {
        state = kEnded;
        return 0;
      }
    }
    state = kFailed;
    return -1;
  };
  HttpReply reply = options_.ingest(request, read);
  // What the endpoint left of the body: read and dropped, so the client sees
  // the answer and may send again on this connection; but not when the
  // client waits for 100 Continue (it sends nothing), nor past the size limit.
  bool keep = state == kEnded;
  const bool discard =
      state == kReading && !reply.close && (!expect_continue || asked) &&
      (request.content_length < 0 || static_cast<std::size_t>(request.content_length) <=
                                         options_.ingest_max_body_bytes + received);
  const char* reason = reply.status < 300 ? "OK" : "Error";
  if (!keep && !discard) {
    Refuse(conn, reply.status, reason, reply.body, head, reply.extra_headers);
    return reply.status;
  }
  Send(conn, reply.status, reason, "text/plain; charset=utf-8", reply.body, head,
       reply.extra_headers);
  if (discard) {
    static thread_local char sink[kDiscardBytes];
    std::size_t dropped = 0;
    long n = 0;
    while (dropped <= options_.ingest_max_body_bytes && (n = read(sink, sizeof sink)) > 0) {
      dropped += static_cast<std::size_t>(n);
    }
    keep = state == kEnded;
  }
  if (!keep) mg_disable_connection_keep_alive(conn);
  return reply.status;
}

void HttpServer::ServeMetrics(mg_connection* conn, bool head) {
  const char* accept = mg_get_header(conn, "Accept");
  const ExpositionFormat format = NegotiateFormat(accept != nullptr ? accept : "");
  // Kept by each worker thread from one scrape to the next, as the buffers
  // below: its strings and vectors are written over (Store::Collect).
  thread_local std::vector<Family> families;
  gather_(format != ExpositionFormat::kText, &families);
  std::vector<Family> tls = CollectReloads();
  families.insert(families.end(), std::make_move_iterator(tls.begin()),
                  std::make_move_iterator(tls.end()));
  const char* encoding = mg_get_header(conn, "Accept-Encoding");
  const bool gzip = encoding != nullptr && AcceptsGzip(encoding);
  const std::string extra_headers =
      gzip ? "Content-Encoding: gzip\r\nVary: Accept, Accept-Encoding\r\n"
           : "Vary: Accept, Accept-Encoding\r\n";
  const std::shared_ptr<const Access> access = current_access();  // held: a reload may replace it
  const std::string& access_headers = access->headers;
  // The body is written after room for the response head, which goes just
  // before it once its length is known: one write (see Send), and the body,
  // megabytes at times, is not copied.
  const std::size_t room =
      ResponseHead(200, "OK", ContentType(format), SIZE_MAX, access_headers, extra_headers).size();
  // Kept by each worker thread from one scrape to the next: glibc would give
  // megabytes freed back to the kernel and fault them in again at the next
  // scrape, a quarter of an OpenMetrics scrape of 10,000 series (perf). One
  // much larger than the scrape that used it last is let go.
  thread_local std::string plain;
  thread_local std::string compressed;
  std::string* body = &plain;
  if (gzip) {
    body = &compressed;
    plain.clear();
  } else {
    plain.assign(room, '\0');
  }
  switch (format) {
    case ExpositionFormat::kOpenMetrics:
      SerializeOpenMetrics(families, &plain);
      break;
    case ExpositionFormat::kProtobuf:
      SerializeProtobuf(families, &plain);
      break;
    case ExpositionFormat::kText:
      SerializeText(families, &plain);
      break;
  }
  if (gzip) {
    compressed.assign(room, '\0');
    Gzip(plain, &compressed);
  }
  const std::string response_head = ResponseHead(
      200, "OK", ContentType(format), body->size() - room, access_headers, extra_headers);
  // At most `room` long: SIZE_MAX has the most digits a length can have.
  const std::size_t start = room - response_head.size();
  std::memcpy(body->data() + start, response_head.data(), response_head.size());
  mg_write(conn, body->data() + start, head ? response_head.size() : body->size() - start);
  for (std::string* kept : {&plain, &compressed}) {
    if (kept->capacity() > 4 * std::max<std::size_t>(kept->size(), 1 << 20)) {
      std::string().swap(*kept);
    }
  }
}

}  // namespace lle
