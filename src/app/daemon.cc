#include "llm_log_exporter/app/daemon.h"

#include <signal.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "llm_log_exporter/app/pipeline.h"
#include "llm_log_exporter/app/self_metrics.h"
#include "llm_log_exporter/exposition/http_server.h"
#include "llm_log_exporter/exposition/text_format.h"
#include "llm_log_exporter/map/mapper.h"
#include "llm_log_exporter/map/qwen_preset.h"
#include "llm_log_exporter/source/fd_source.h"
#include "llm_log_exporter/store/store.h"

namespace lle {
namespace {

constexpr std::size_t kStdin = 0;  // index of the stdin source in the `source` label

std::vector<MetricSpec> Concat(std::vector<MetricSpec> a, const std::vector<MetricSpec>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

/// The rules, self-metrics and store shared by every source. Owns all three.
class Exporter {
 public:
  Exporter()
      : mapper_(QwenPreset(), 0),
        self_({"stdin"}, static_cast<std::uint32_t>(mapper_.Specs().size()), LLE_VERSION),
        store_(Concat(mapper_.Specs(), self_.Specs())) {
    store_.AddShard()->Apply(self_.BuildInfo());
  }

  std::unique_ptr<Pipeline> NewPipeline(std::size_t source, std::size_t max_line_bytes) {
    return std::make_unique<Pipeline>(mapper_, self_, source, store_.AddShard(), max_line_bytes);
  }
  Store& store() { return store_; }

 private:
  Mapper mapper_;
  SelfMetrics self_;
  Store store_;
};

}  // namespace

void SetupLogging(const std::string& level) {
  auto logger = std::make_shared<spdlog::logger>("llm_log_exporter",
                                                 std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %l %v");
  logger->set_level(spdlog::level::from_str(level));
  spdlog::set_default_logger(logger);
}

int RunOnce(const Options& options, int in_fd, std::FILE* out) {
  Exporter exporter;
  auto pipeline = exporter.NewPipeline(kStdin, options.max_line_bytes);
  FdSource source(in_fd);
  std::string error;
  if (source.Run([&](std::string_view chunk) { pipeline->Feed(chunk); }, &error) ==
      FdSource::End::kError) {
    std::fprintf(stderr, "llm_log_exporter: reading stdin: %s\n", error.c_str());
    return 1;
  }
  pipeline->Finish();
  const std::string text = SerializeText(exporter.store().Collect());
  if (std::fwrite(text.data(), 1, text.size(), out) != text.size() || std::fflush(out) != 0) {
    std::fprintf(stderr, "llm_log_exporter: writing stdout: %s\n", std::strerror(errno));
    return 1;
  }
  return 0;
}

int RunDaemon(const Options& options) {
  // Signals are taken by sigwait below; threads started from here inherit the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a scraper hanging up must not kill us

  Exporter exporter;
  HttpServerOptions http;
  http.address = options.listen;
  http.telemetry_path = options.telemetry_path;
  HttpServer server(http, [&exporter] { return exporter.store().Collect(); });
  std::string error;
  if (!server.Start(&error)) {
    std::fprintf(stderr, "llm_log_exporter: --web.listen-address: %s\n", error.c_str());
    return 1;
  }
  FdSource source(0);
  auto pipeline = exporter.NewPipeline(kStdin, options.max_line_bytes);
  std::thread reader([&] {
    std::string read_error;
    const FdSource::End end =
        source.Run([&](std::string_view chunk) { pipeline->Feed(chunk); }, &read_error);
    if (end == FdSource::End::kStopped) return;
    pipeline->Finish();
    if (end == FdSource::End::kError) {
      spdlog::error("stdin: {}; no more input, still serving metrics", read_error);
    } else {
      spdlog::info("stdin: end of input; still serving metrics until SIGTERM or SIGINT");
    }
  });
  server.SetReady(true);
  spdlog::info("listening on {} (metrics at {})", options.listen.Format(server.port()),
               options.telemetry_path);

  int sig = 0;
  for (;;) {
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      spdlog::info("SIGHUP: nothing to reload (the built-in preset is in use)");
      continue;
    }
    break;
  }
  spdlog::info("{}: shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
  server.SetReady(false);
  source.Stop();
  reader.join();
  server.Stop();
  return 0;
}

}  // namespace lle
