#pragma once

#include <prometheus/metric_family.h>

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "llm_log_exporter/exposition/listen_address.h"

struct mg_context;
struct mg_connection;

namespace lle {

struct HttpServerOptions {
  ListenAddress address;
  std::string telemetry_path = "/metrics";
  int num_threads = 4;  // scrapes are rare; a few workers suffice
  // Per network read or write. civetweb checks for shutdown between waits of
  // at most this long, so it also bounds how long SIGTERM waits for an idle client.
  int request_timeout_ms = 1000;
};

/// The one HTTP server of the daemon (civetweb): the telemetry path, /-/healthy,
/// /-/ready and a landing page. Owns the civetweb context; handlers run on its
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

  HttpServerOptions options_;
  Gatherer gather_;
  mg_context* ctx_ = nullptr;
  int port_ = 0;
  std::atomic<bool> ready_{false};
};

}  // namespace lle
