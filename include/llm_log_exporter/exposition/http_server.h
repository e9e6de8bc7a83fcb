#pragma once

#include <prometheus/metric_family.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "llm_log_exporter/exposition/basic_auth.h"
#include "llm_log_exporter/exposition/listen_address.h"
#include "llm_log_exporter/exposition/web_config.h"

struct mg_context;
struct mg_connection;

namespace lle {

class ConnectionDeadlines;

/// A request to the ingest path, body read (up to the limit).
struct IngestRequest {
  std::string method;
  std::string content_type;
  std::string content_encoding;
  std::string authorization;
  std::string_view body;        // valid during the handler call
  bool body_too_large = false;  // over max_body_bytes: `body` is empty
  /// The body did not arrive whole (within body_timeout_ms): `body` is partial.
  bool body_incomplete = false;
};

struct HttpReply {
  int status = 204;
  std::string body;
  std::string extra_headers;  // "Name: value\r\n" each
};

struct HttpServerOptions {
  ListenAddress address;
  std::string telemetry_path = "/metrics";
  /// Empty: no ingest endpoint. Otherwise every request to this path goes to
  /// `ingest` (on a server thread, so it must be thread-safe).
  std::string ingest_path;
  std::size_t ingest_max_body_bytes = 16 * 1024 * 1024;
  std::function<HttpReply(const IngestRequest&)> ingest;
  /// Set: POST /-/reload calls it (on a server thread); else /-/reload answers 403.
  std::function<HttpReply()> reload;
  /// The ingest handler checks its own credential (a bearer token): basic auth
  /// is then not asked for on the ingest path.
  bool ingest_has_own_auth = false;
  /// Connections served at once: one civetweb worker each, for the whole
  /// connection (keep-alive included). Further connections wait in a queue of
  /// the same length, then in the kernel's listen backlog, until a worker frees.
  int max_connections = 8;
  // Per network read or write, and for the whole request head. civetweb checks
  // for shutdown between waits of at most this long, so it also bounds how long
  // SIGTERM waits for an idle client.
  int request_timeout_ms = 1000;
  /// Whole time a request with a body may take to send it (civetweb bounds the
  /// head, but not a body that trickles in); then reading ends and the
  /// connection is closed after the answer (408 on the ingest path).
  int body_timeout_ms = 30000;
  /// TLS, basic auth and extra headers (--web.config.file); applies to every path.
  WebConfig web;
};

/// The one HTTP(S) server of the daemon (civetweb): the telemetry path,
/// /-/healthy, /-/ready, /-/reload, a landing page and ingest, each behind the web
/// config's TLS and basic auth. Owns the civetweb context; handlers run on its
/// worker threads, so `gather` must be thread-safe.
class HttpServer {
 public:
  using Gatherer = std::function<std::vector<prometheus::MetricFamily>()>;

  HttpServer(HttpServerOptions options, Gatherer gather);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Binds and starts serving; false with `*error` set (e.g. port in use).
  bool Start(std::string* error);
  /// The bound port (useful with port 0); 0 before Start.
  int port() const { return port_; }
  /// /-/ready answers 200 once set, 503 before.
  void SetReady(bool ready) { ready_.store(ready); }
  /// Stops accepting and waits for running handlers. Idempotent.
  void Stop();

 private:
  static int Handle(mg_connection* conn, void* self);
  static int InitTls(void* ssl_ctx, void* self);
  static void EndRequest(const mg_connection* conn, int status);
  bool ConfigureTls(void* ssl_ctx, std::string* error);
  int HandleRequest(mg_connection* conn);
  void Send(mg_connection* conn, int code, const char* reason, const char* content_type,
            std::string_view body, bool head, const std::string& extra_headers = {});
  void ServeMetrics(mg_connection* conn, bool head);
  void ServeIngest(mg_connection* conn);

  HttpServerOptions options_;
  Gatherer gather_;
  BasicAuth basic_auth_;
  std::string common_headers_;  // web config headers, "Name: value\r\n" each
  std::string tls_error_;       // set by ConfigureTls during Start
  std::unique_ptr<ConnectionDeadlines> deadlines_;
  mg_context* ctx_ = nullptr;
  int port_ = 0;
  std::atomic<bool> ready_{false};
};

}  // namespace lle
