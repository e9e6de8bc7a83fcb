#pragma once

#include <prometheus/metric_family.h>

#include <atomic>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "llm_log_exporter/exposition/listen_address.h"

struct mg_context;
struct mg_connection;

namespace lle {

/// A request to the ingest path, body read (up to the limit).
struct IngestRequest {
  std::string method;
  std::string content_type;
  std::string content_encoding;
  std::string authorization;
  std::string_view body;        // valid during the handler call
  bool body_too_large = false;  // over max_body_bytes: `body` is empty
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
  int num_threads = 4;  // scrapes are rare; a few workers suffice
  // Per network read or write. civetweb checks for shutdown between waits of
  // at most this long, so it also bounds how long SIGTERM waits for an idle client.
  int request_timeout_ms = 1000;
};

/// The one HTTP server of the daemon (civetweb): the telemetry path, /-/healthy,
/// /-/ready, /-/reload, the ingest path and a landing page. Owns the civetweb context; handlers run on its
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
  int HandleRequest(mg_connection* conn);
  void ServeMetrics(mg_connection* conn, bool head);
  void ServeIngest(mg_connection* conn);

  HttpServerOptions options_;
  Gatherer gather_;
  mg_context* ctx_ = nullptr;
  int port_ = 0;
  std::atomic<bool> ready_{false};
};

}  // namespace lle
