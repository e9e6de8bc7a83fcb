#include "llm_log_exporter/exposition/http_server.h"

#include <arpa/inet.h>
#include <civetweb.h>
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

#include "llm_log_exporter/exposition/text_format.h"

namespace lle {
namespace {

void Send(mg_connection* conn, int code, const char* reason, const char* content_type,
          std::string_view body, bool head, const char* extra_headers = "") {
  // One write for head and body: two small writes wait on the peer's delayed
  // ACK (Nagle), about 40 ms per answer on a keep-alive connection.
  std::string out = "HTTP/1.1 " + std::to_string(code) + " " + reason +
                    "\r\nContent-Type: " + content_type +
                    "\r\nContent-Length: " + std::to_string(body.size()) +
                    "\r\nCache-Control: no-store\r\n" + extra_headers + "\r\n";
  if (!head) out.append(body);
  mg_write(conn, out.data(), out.size());
}

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

}  // namespace

HttpServer::HttpServer(HttpServerOptions options, Gatherer gather)
    : options_(std::move(options)), gather_(std::move(gather)) {}

HttpServer::~HttpServer() { Stop(); }

bool HttpServer::Start(std::string* error) {
  InitCivetwebOnce();
  if (options_.address.ipv6 && mg_check_feature(8) == 0) {
    *error = "cannot listen on " + options_.address.Format(options_.address.port) +
             ": this build's civetweb has no IPv6 support; use an IPv4 address";
    return false;
  }
  first_log_message.clear();
  const std::string ports = options_.address.ToCivetweb();
  const std::string threads = std::to_string(options_.num_threads);
  const std::string timeout = std::to_string(options_.request_timeout_ms);
  const char* config[] = {"listening_ports",
                          ports.c_str(),
                          "num_threads",
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
  mg_init_data init{};
  init.callbacks = &callbacks;
  init.configuration_options = config;
  char text[256] = {0};
  unsigned code = 0;
  mg_error_data err{};
  err.code = &code;
  err.text = text;
  err.text_buffer_size = sizeof text;
  ctx_ = mg_start2(&init, &err);
  if (ctx_ == nullptr) {
    *error = !first_log_message.empty()
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
    Send(conn, 500, "Internal Server Error", "text/plain", "internal error\n", false);
    return 500;
  }
}

int HttpServer::HandleRequest(mg_connection* conn) {
  const mg_request_info* info = mg_get_request_info(conn);
  const std::string_view method = info->request_method ? info->request_method : "";
  const std::string_view uri = info->local_uri ? info->local_uri : "";
  const bool head = method == "HEAD";
  // With --ingest.path=/ only writes go to ingest: GET / stays the landing page.
  const bool write = method == "POST" || method == "PUT";
  if (!options_.ingest_path.empty() && uri == options_.ingest_path &&
      (write || options_.ingest_path != "/")) {
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
      if (n <= 0) break;
      size += static_cast<std::size_t>(n);
      if (size > limit) {
        request.body_too_large = true;
        size = 0;
        break;
      }
    }
    body.resize(size);
  }
  request.body = body;
  const HttpReply reply = options_.ingest(request);
  // Keep a buffer for the next request, but not one that a rare huge body grew.
  if (body.capacity() > kKeptBufferBytes) std::string().swap(body);
  const char* reason = reply.status < 300 ? "OK" : "Error";
  Send(conn, reply.status, reason, "text/plain; charset=utf-8", reply.body,
       request.method == "HEAD", reply.extra_headers.c_str());
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
