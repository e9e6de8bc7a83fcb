#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "llm_log_exporter/exposition/basic_auth.h"
#include "llm_log_exporter/exposition/family.h"
#include "llm_log_exporter/exposition/listen_address.h"
#include "llm_log_exporter/exposition/web_config.h"

struct mg_context;
struct mg_connection;
struct ssl_st;

namespace lle {

class ConnectionDeadlines;
class ReloadCounts;
class TlsReloader;

/// The head of a request to the ingest path; its body is read through a
/// BodyReader, so the endpoint can refuse it before a byte is read.
struct IngestRequest {
  std::string method;
  std::string content_type;
  std::string content_encoding;
  std::string authorization;
  /// Declared by Content-Length; -1 when the body is chunked.
  long long content_length = 0;
};

/// Reads the next bytes of the request body into `data` (at most `size`):
/// the count read, 0 at the end of the body, -1 if the body did not arrive
/// whole (cut for being too slow, see HttpServerOptions, or the client went
/// away). The first call answers `100 Continue` if the client asked for it.
/// Valid only during the `ingest` call it is passed to, on that thread.
using BodyReader = std::function<long(char* data, std::size_t size)>;

struct HttpReply {
  int status = 204;
  std::string body;
  std::string extra_headers;  // "Name: value\r\n" each
  /// Close the connection without reading the rest of the body (e.g. a
  /// client without credentials).
  bool close = false;
};

struct HttpServerOptions {
  /// Where to listen: one or more addresses, all serving the same paths.
  std::vector<ListenAddress> addresses;
  std::string telemetry_path = "/metrics";
  /// Empty: no ingest endpoint. Otherwise every request to this path goes to
  /// `ingest` (on a server thread, so it must be thread-safe), which reads the
  /// body it wants through the reader. What it leaves unread is read and
  /// discarded up to `ingest_max_body_bytes` (so the client sees the answer
  /// and the connection stays open), beyond that the connection is closed.
  std::string ingest_path;
  std::size_t ingest_max_body_bytes = 16 * 1024 * 1024;
  std::function<HttpReply(const IngestRequest&, const BodyReader&)> ingest;
  /// Told the status of each ingest request the server refuses itself
  /// (framing, basic auth, no worker free for ingest), for its counters.
  std::function<void(int status)> ingest_refused;
  /// Set: GET / answers the HTML document it returns (called on a server
  /// thread, so it must be thread-safe); else a page of links.
  std::function<std::string()> landing_page;
  /// Set: POST /-/reload calls it (on a server thread); else /-/reload answers 403.
  std::function<HttpReply()> reload;
  /// The ingest handler checks its own credential (a bearer token): basic auth
  /// is then not asked for on the ingest path.
  bool ingest_has_own_auth = false;
  /// Connections served at once: one civetweb worker each, for the whole
  /// connection (keep-alive included). Further connections wait in a queue of
  /// the same length, then in the kernel's listen backlog, until a worker frees.
  /// While some wait in the kernel's backlog (4096 deep), a connection that
  /// holds a worker without a request in progress and has received nothing
  /// for 20 ms (idle, between keep-alive requests, or trickling its head or
  /// TLS handshake) is closed (see ConnectionDeadlines). At most
  /// max_connections - max(1, max_connections / 4) workers serve the ingest
  /// path at once: the rest stay free for scrapes.
  int max_connections = 8;
  // Per network read or write, and for the whole request head. civetweb checks
  // for shutdown between waits of at most this long, so it also bounds how long
  // SIGTERM waits for an idle client.
  int request_timeout_ms = 1000;
  /// Whole time a request with a body may take to send it (civetweb bounds the
  /// head, but not a body that trickles in); then reading ends and the
  /// connection is closed after the answer (408 on the ingest path).
  int body_timeout_ms = 30000;
  /// And the body must come at least this fast on average after its first
  /// request_timeout_ms: a body trickled in is cut as soon as it falls behind
  /// (0: no minimum). Only the ingest path reads bodies: on every other path a
  /// request with a body is answered at once and its connection closed.
  std::size_t body_min_bytes_per_second = 16 * 1024;
  /// TLS, basic auth and extra headers (--web.config.file); applies to every path.
  WebConfig web;
  /// The file `web` was loaded from; empty: none. Set: the file is followed
  /// (see HttpServer).
  std::string web_config_file;
};

/// The one HTTP(S) server of the daemon (civetweb): the telemetry path,
/// /-/healthy, /-/ready, /-/reload, a landing page and ingest, each behind the web
/// config's TLS and basic auth. Owns the civetweb context; handlers run on its
/// worker threads, so `gather` must be thread-safe. With TLS, each new
/// connection is served the certificate, key and client CA its files hold at
/// the time (see TlsReloader). With `web_config_file`, the web config file
/// itself is followed as the Prometheus exporter-toolkit does (it re-reads it
/// per request): each request and each TLS handshake stat()s it (through
/// symlinks, as TlsReloader does; about a microsecond, cheaper than rate
/// limiting it and seen at once), and when it changed it is parsed again: new
/// basic_auth_users and headers apply to the next requests, new
/// cert_file/key_file/client_ca_file paths to new connections. A file that
/// does not load, or a change that needs a restart (TLS turned on or off,
/// client_auth_type, min_version), leaves everything as it was; one line is
/// logged. The metrics gathered get two more families counting those reloads
/// (with TLS or a web config file).
///
/// Thread-safety: civetweb's workers handle requests concurrently. The basic
/// auth users and headers in force are one immutable Access, read and replaced
/// only with std::atomic_load/std::atomic_store of a shared_ptr (a request
/// keeps the one it loaded); the web config reload itself (stat compare,
/// parse, swap) runs under a mutex, which a request holds only for the
/// identity comparison when nothing changed. A scrape's families and
/// buffers are the worker's own (thread_local, kept for its next scrape):
/// the Gatherer is called from several workers at once, each with its own
/// vector.
class HttpServer {
 public:
  /// Puts the families to serve in `*families`, which holds those of the
  /// worker's previous scrape (to be written over, their memory reused) and
  /// is to hold these only; `with_exemplars`: whether the format asked for
  /// shows exemplars (the 0.0.4 text does not: they need not be gathered).
  using Gatherer = std::function<void(bool with_exemplars, std::vector<Family>* families)>;

  HttpServer(HttpServerOptions options, Gatherer gather);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Binds and starts serving; false with `*error` set (e.g. port in use).
  bool Start(std::string* error);
  /// The bound port of the first address (useful with port 0); 0 before Start.
  int port() const { return port_.load(); }
  /// The bound port of each address, in the order of `options.addresses`;
  /// empty before Start. Call from the thread that called Start.
  const std::vector<int>& ports() const { return ports_; }
  /// /-/ready answers 200 once set, 503 before.
  void SetReady(bool ready) { ready_.store(ready); }
  /// Stops accepting and waits for running handlers. Idempotent.
  void Stop();

 private:
  static int Handle(mg_connection* conn, void* self);
  static int InitTls(void* ssl_ctx, void* self);
  /// OpenSSL's certificate callback, at each handshake: moves the connection
  /// to the context built from the current TLS files, if they changed.
  static int SelectContext(ssl_st* ssl, void* self);
  /// The reload counters (empty without TLS nor a web config file).
  std::vector<Family> CollectReloads() const;
  /// What requests are checked against and answered with, from the web
  /// config as last applied: immutable, swapped whole.
  struct Access {
    explicit Access(const WebConfig& web);
    BasicAuth basic_auth;
    std::string headers;  // "Name: value\r\n" each
  };
  std::shared_ptr<const Access> current_access() const { return std::atomic_load(&access_); }
  /// Re-reads options_.web_config_file if it changed since last looked at,
  /// and applies it (see the class comment). Any thread.
  void FollowWebConfig();
  /// The web config file followed: its identity and what was applied.
  struct WebFollower;
  static void EndRequest(const mg_connection* conn, int status);
  static int InitConnection(const mg_connection* conn, void** data);
  static void CloseConnection(const mg_connection* conn);
  bool ConfigureTls(const TlsServerConfig& tls, void* ssl_ctx, std::string* error);
  int HandleRequest(mg_connection* conn);
  void Send(mg_connection* conn, int code, const char* reason, const char* content_type,
            std::string_view body, bool head, const std::string& extra_headers = {});
  void ServeMetrics(mg_connection* conn, bool head);
  int ServeIngest(mg_connection* conn, bool head);
  /// Refuses a request whose body will not be read, and closes the connection.
  int Refuse(mg_connection* conn, int code, const char* reason, std::string_view body, bool head,
             const std::string& extra_headers = {});

  HttpServerOptions options_;
  Gatherer gather_;
  // Never null; only through std::atomic_load/std::atomic_store (current_access()).
  std::shared_ptr<const Access> access_;
  std::unique_ptr<WebFollower> web_follower_;    // null: no web config file; thread-safe
  std::unique_ptr<ReloadCounts> reload_counts_;  // never null; thread-safe
  std::string tls_error_;                        // set by ConfigureTls during Start
  std::unique_ptr<ConnectionDeadlines> deadlines_;
  std::unique_ptr<TlsReloader> tls_reloader_;  // set by Start with TLS; thread-safe
  const int ingest_workers_;                   // workers that may serve ingest at once
  std::atomic<int> ingest_active_{0};
  mg_context* ctx_ = nullptr;
  std::atomic<int> port_{0};
  // Set by Start before the request handler is registered (civetweb's lock
  // orders it before any request), then read only.
  std::vector<int> ports_;
  std::atomic<bool> ready_{false};
};

}  // namespace lle
