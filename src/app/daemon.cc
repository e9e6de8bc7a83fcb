#include "llm_log_exporter/app/daemon.h"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "llm_log_exporter/app/exporter.h"
#include "llm_log_exporter/app/http_ingest.h"
#include "llm_log_exporter/app/input.h"
#include "llm_log_exporter/app/input_factory.h"
#include "llm_log_exporter/app/kafka_input.h"
#include "llm_log_exporter/app/self_counts.h"
#include "llm_log_exporter/app/self_metrics.h"
#include "llm_log_exporter/app/status_page.h"
#include "llm_log_exporter/app/stream_input.h"
#include "llm_log_exporter/config/config.h"
#include "llm_log_exporter/core/read_file.h"
#include "llm_log_exporter/exposition/http_server.h"
#include "llm_log_exporter/exposition/text_format.h"
#include "llm_log_exporter/exposition/web_config.h"
#include "llm_log_exporter/host/gpu_collector.h"
#include "llm_log_exporter/host/process_collector.h"
#include "llm_log_exporter/parse/log_level.h"
#include "llm_log_exporter/parse/sensitive.h"
#include "llm_log_exporter/store/store.h"

namespace lle {
namespace {

// How long a scrape waits at most for resting inputs to catch up (Input::Flush).
constexpr std::chrono::milliseconds kFlushBudget(100);

// "1.5 MiB", or "0.9 KiB" for a small store.
std::string MiB(std::size_t bytes) {
  const double kib = static_cast<double>(bytes) / 1024;
  return kib < 1024 ? fmt::format("{:.1f} KiB", kib) : fmt::format("{:.1f} MiB", kib / 1024);
}

// Shards of the rules' store: one per writer the options make (input workers
// or followed files, each queue input's source, HTTP ingest pipelines), and
// one more for a reload.
std::size_t StoreShards(const Options& options) {
  const std::size_t queues = QueueLabels(options).size();
  const bool stdin_workers = options.input_files.empty() && queues == 0;
  return (stdin_workers ? options.input_workers : options.input_files.size()) + queues +
         (options.ingest_enable ? HttpIngest::kPipelines : 0) + 1;
}

// How the rules' store adds up values: exactly for --once, whose output must
// be the same bytes however the workers split the input.
SumMode StoreSums(const Options& options) {
  return options.once ? SumMode::kExact : SumMode::kFast;
}

// Whether the store of `metrics` fits --store.max-bytes at its largest; else
// false with `*error` naming the largest metrics.
bool FitsStoreBudget(const std::vector<MetricSpec>& metrics, const Options& options,
                     std::string* error) {
  const std::size_t shards = StoreShards(options);
  std::vector<std::pair<std::size_t, const MetricSpec*>> sizes;
  std::size_t total = 0;
  for (const MetricSpec& spec : metrics) {
    sizes.emplace_back(Store::MaxBytes(spec, shards, StoreSums(options)), &spec);
    total += sizes.back().first;
  }
  if (total <= options.store_max_bytes) return true;
  std::stable_sort(sizes.begin(), sizes.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  std::string largest;
  for (std::size_t i = 0; i < sizes.size() && i < 3; ++i) {
    largest += (i == 0 ? "" : ", ") + sizes[i].second->name + " " + MiB(sizes[i].first);
  }
  *error = fmt::format(
      "its metrics could take {} ({} writer copies of every series the label caps allow), over "
      "--store.max-bytes={} ({}); largest: {}{}: lower their max_values or buckets, or raise "
      "--store.max-bytes",
      MiB(total), shards, options.store_max_bytes, MiB(options.store_max_bytes), largest,
      sizes.size() > 3 ? ", ..." : "");
  return false;
}

// The rules of --config.file, else the built-in preset, if their store fits
// the budget; false with `*error`.
bool LoadRules(const Options& options, RuleSet* rules, std::string* error) {
  RuleSet loaded;
  if (options.config_file.empty()) {
    loaded = QwenPreset();
  } else if (!LoadConfigFile(options.config_file, &loaded, error)) {
    return false;
  }
  if (options.audit_sensitive) AddSensitiveAudit(&loaded);
  if (!FitsStoreBudget(loaded.metrics, options, error)) {
    *error = (options.config_file.empty() ? "built-in qwen preset" : options.config_file) + ": " +
             *error;
    return false;
  }
  *rules = std::move(loaded);
  return true;
}

// At start: the rules, or false after saying why on stderr (exit code 1).
bool LoadStartRules(const Options& options, RuleSet* rules) {
  std::string error;
  if (LoadRules(options, rules, &error)) return true;
  std::fprintf(stderr, "llm_log_exporter: --config.file: %s\n", error.c_str());
  return false;
}

/// Reloads --config.file on SIGHUP or POST /-/reload, one reload at a time.
/// A config that fails validation changes nothing. Thread-safe.
class Reloader {
 public:
  Reloader(Exporter& exporter, const Options& options) : exporter_(exporter), options_(options) {}

  /// Empty on success, else why the old config stays.
  std::string Reload(const char* trigger) {
    std::lock_guard<std::mutex> lock(mutex_);
    RuleSet rules;
    std::string error;
    bool ok = false;
    try {
      ok = LoadRules(options_, &rules, &error);
      if (ok) exporter_.Reload(std::move(rules));
    } catch (const std::bad_alloc&) {
      // Exporter::Reload changes nothing then: the old rules and store go on.
      ok = false;
      error = "out of memory while building the new rules and metric store";
    }
    exporter_.CountReload(ok);
    {
      std::lock_guard<std::mutex> status_lock(status_mutex_);
      last_ = std::chrono::system_clock::now();
      reloaded_ = true;
      last_error_ = error;
    }
    if (ok) {
      spdlog::info("{}: reloaded {}", trigger,
                   options_.config_file.empty() ? "the built-in preset" : options_.config_file);
    } else {
      spdlog::error("{}: reload failed, the previous config stays in force: {}", trigger, error);
    }
    return error;
  }

  /// For the landing page: when the config was last (re)loaded and, if that
  /// failed, why. Does not wait for a reload in progress.
  void Describe(StatusPageData* data) {
    std::lock_guard<std::mutex> lock(status_mutex_);
    data->last_reload = last_;
    data->reloaded = reloaded_;
    data->reload_error = last_error_;
  }

 private:
  Exporter& exporter_;
  const Options& options_;
  std::mutex mutex_;  // one reload at a time
  std::mutex status_mutex_;
  std::chrono::system_clock::time_point last_ = std::chrono::system_clock::now();  // the start
  bool reloaded_ = false;   // guarded by status_mutex_, as are last_ and last_error_
  std::string last_error_;  // of the last reload, empty if it succeeded
};

/// --once's report on stderr, from the self-metrics (the numbers the output
/// shows): while `progress` (stderr is a terminal), one line rewritten in
/// place every `interval` with the bytes and lines read so far; at Finish(),
/// a last such update, then the summary line. Owns its progress thread;
/// Finish() is called once, from the thread that constructed it.
class OnceReport {
 public:
  OnceReport(Exporter& exporter, std::FILE* err, bool progress, std::chrono::milliseconds interval)
      : exporter_(exporter),
        err_(err),
        progress_(progress),
        interval_(interval),
        start_(std::chrono::steady_clock::now()) {
    if (progress_) thread_ = std::thread([this] { Loop(); });
  }
  ~OnceReport() { StopThread(); }
  OnceReport(const OnceReport&) = delete;
  OnceReport& operator=(const OnceReport&) = delete;

  /// Ends the progress line and prints the summary, e.g.
  /// `llm_log_exporter: --once: 5 lines (request 3, event 1, not_json 1,
  /// invalid_utf8 0, too_long 0, dropped 0), 3 requests, 0.002 s, 2500 lines/s`.
  void Finish() {
    StopThread();
    if (abandoned_) return;
    const SourceCounts counts = Counts();
    const double seconds = Seconds();
    if (progress_) PrintProgress(counts, seconds);
    std::string results;
    for (const auto& [result, lines] : counts.lines) {
      results += fmt::format("{}{} {:.0f}", results.empty() ? "" : ", ", result, lines);
    }
    // On a terminal the summary takes the progress line's place.
    const double lines = counts.TotalLines();
    const double requests = counts.Lines("request");
    std::fprintf(err_, "%sllm_log_exporter: --once: %.0f %s (%s), %.0f %s, %.3f s, %s\n",
                 progress_ ? "\r\033[K" : "", lines, lines == 1 ? "line" : "lines",
                 results.c_str(), requests, requests == 1 ? "request" : "requests", seconds,
                 Rate(lines, seconds).c_str());
    std::fflush(err_);
  }

  /// Instead of Finish() when --once fails: stops the progress line and
  /// erases it, for the error message to take its place.
  void Abandon() {
    StopThread();
    if (progress_) std::fputs("\r\033[K", err_);
    abandoned_ = true;
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!cv_.wait_for(lock, interval_, [this] { return stop_; })) {
      lock.unlock();
      PrintProgress(Counts(), Seconds());
      lock.lock();
    }
  }

  void StopThread() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  SourceCounts Counts() {
    for (SourceCounts& counts : CountsBySource(exporter_.self_store().Collect())) {
      if (counts.source == "stdin") return counts;
    }
    return {};
  }

  double Seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

  static std::string Rate(double lines, double seconds) {
    return seconds > 0 ? fmt::format("{:.0f} lines/s", lines / seconds) : "- lines/s";
  }

  // `\r`, the line, then erase what a longer previous line left.
  void PrintProgress(const SourceCounts& counts, double seconds) {
    std::fprintf(err_, "\rllm_log_exporter: --once: %s, %.0f lines read, %s\033[K",
                 MiB(static_cast<std::size_t>(counts.bytes)).c_str(), counts.TotalLines(),
                 Rate(counts.TotalLines(), seconds).c_str());
    std::fflush(err_);
  }

  Exporter& exporter_;
  std::FILE* err_;
  const bool progress_;
  const std::chrono::milliseconds interval_;
  const std::chrono::steady_clock::time_point start_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mutex_
  bool abandoned_ = false;
  std::thread thread_;
};

// The progress line's interval: 250 ms, or LLE_PROGRESS_INTERVAL_MS (for tests).
std::chrono::milliseconds ProgressInterval() {
  const char* env = std::getenv("LLE_PROGRESS_INTERVAL_MS");
  const long ms = env != nullptr ? std::strtol(env, nullptr, 10) : 0;
  return std::chrono::milliseconds(ms > 0 ? ms : 250);
}

}  // namespace

int CheckConfig(const Options& options, std::FILE* out) {
  RuleSet rules;
  if (!LoadStartRules(options, &rules)) return 1;
  if (!options.web_config_file.empty()) {
    WebConfig web;
    std::string error;
    if (!LoadWebConfig(options.web_config_file, &web, &error)) {
      std::fprintf(stderr, "llm_log_exporter: --web.config.file %s: %s\n",
                   options.web_config_file.c_str(), error.c_str());
      return 1;
    }
    std::fprintf(out, "%s: ok\n", options.web_config_file.c_str());
  }
  const char* types[] = {"counter", "gauge", "histogram"};
  std::size_t store = 0;
  for (const MetricSpec& spec : rules.metrics) {
    store += Store::MaxBytes(spec, StoreShards(options), StoreSums(options));
  }
  std::fprintf(out,
               "%s: ok, %zu metrics from %zu rules reading %zu fields; store at most %s "
               "(--store.max-bytes: %s)\n",
               options.config_file.empty() ? "built-in qwen preset" : options.config_file.c_str(),
               rules.metrics.size(), rules.rules.size(), rules.fields.size(), MiB(store).c_str(),
               MiB(options.store_max_bytes).c_str());
  for (const MetricSpec& spec : rules.metrics) {
    std::string labels;
    for (const LabelSpec& label : spec.labels) labels += (labels.empty() ? "" : ",") + label.name;
    std::fprintf(out, "  %s %s%s%s%s\n", types[static_cast<int>(spec.type)], spec.name.c_str(),
                 labels.empty() ? "" : "{", labels.c_str(), labels.empty() ? "" : "}");
  }
  return 0;
}

void PrepareProcess() {
  // A descriptor 0, 1 or 2 left closed by the caller (`<&-`) would be taken
  // by the next open(), an eventfd say, and read or written as if it were
  // stdin or stdout: keep them taken by /dev/null instead.
  for (int fd = 0; fd <= 2; ++fd) {
    if (fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    // open() takes the lowest free descriptor: this one, those below are open.
    if (open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) < 0) return;
  }
  // A reader that hangs up (`--once | head`, a scraper) is a write error, not death.
  signal(SIGPIPE, SIG_IGN);
}

int RunOnce(const Options& options, int in_fd, std::FILE* out) {
  RuleSet rules;
  if (!LoadStartRules(options, &rules)) return 1;
  Exporter exporter(std::move(rules), /*http_ingest=*/false, {}, StoreSums(options));
  const std::unique_ptr<StreamInput> input = MakeOnceInput(exporter, options, in_fd);
  OnceReport report(exporter, stderr, isatty(STDERR_FILENO) == 1, ProgressInterval());
  std::string error;
  const ByteSource::Status status = input->RunHere(&error);
  if (status == ByteSource::Status::kError) {
    report.Abandon();
    std::fprintf(stderr, "llm_log_exporter: reading stdin: %s\n", error.c_str());
    return 1;
  }
  const std::string text = SerializeText(exporter.Collect(/*with_exemplars=*/false));
  if (std::fwrite(text.data(), 1, text.size(), out) != text.size() || std::fflush(out) != 0) {
    const int write_error = errno;
    report.Abandon();
    std::fprintf(stderr, "llm_log_exporter: writing stdout: %s\n", std::strerror(write_error));
    return 1;
  }
  report.Finish();
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

  RuleSet rules;
  if (!LoadStartRules(options, &rules)) return 1;
  if (!options.kafka_topics.empty()) {
    // Every librdkafka property is checked now: a bad one is a usage error at start.
    std::string error;
    int code = 0;
    if (!CheckKafkaOptions(options, &error, &code)) {
      std::fprintf(stderr, "llm_log_exporter: %s\n", error.c_str());
      return code;
    }
  }
  const std::vector<std::string> queues = QueueLabels(options);
  // stdin is an input, with its `source` series, unless files or queues are
  // read instead, or HTTP ingest comes with stdin on /dev/null.
  const bool read_stdin = ReadsStdin(options);
  Exporter exporter(std::move(rules),
                    ExporterInputs{read_stdin, options.ingest_enable, options.input_files, queues});
  Reloader reloader(exporter, options);
  HttpServerOptions http;
  if (options.web_enable_lifecycle) {
    http.reload = [&reloader] {
      HttpReply reply;
      const std::string error = reloader.Reload("POST /-/reload");
      reply.status = error.empty() ? 200 : 500;
      reply.body = error.empty() ? "reloaded\n" : "failed to reload config: " + error + "\n";
      return reply;
    };
  }
  // The inputs once made (after the server starts). A scrape (and the landing
  // page) first takes what a resting input's writer wrote meanwhile, so that
  // resting for fewer wake-ups never makes /metrics staler (Input::Flush).
  using Inputs = std::vector<std::unique_ptr<Input>>;
  std::atomic<const Inputs*> live_inputs{nullptr};
  const auto flush_inputs = [&live_inputs] {
    const Inputs* inputs = live_inputs.load();
    if (inputs == nullptr) return;
    const auto deadline = std::chrono::steady_clock::now() + kFlushBudget;
    for (const auto& input : *inputs) input->Flush(deadline);
  };
  http.landing_page = [&exporter, &reloader, &options, &live_inputs, &flush_inputs,
                       &queues, read_stdin] {
    flush_inputs();
    std::vector<Family> families = exporter.Collect();
    StatusPageData data;
    if (read_stdin) {
      // How stdin's reading stands (a followed file's state is its readable gauge).
      const Inputs* inputs = live_inputs.load();
      const InputState state =
          inputs != nullptr ? inputs->front()->state() : InputState::kReading;
      data.inputs.push_back({"stdin", "stdin",
                             state == InputState::kReading ? "reading"
                             : state == InputState::kEnded
                                 ? "end of input (metrics still served)"
                                 : "read error, no more input (see the log)"});
    } else {
      data.inputs.push_back({"stdin", "stdin",
                             !options.input_files.empty() ? "not read (--input.file given)"
                             : !queues.empty() ? "not read (a Redis or Kafka input given)"
                                 : "not read (/dev/null, input over HTTP only)"});
    }
    if (options.ingest_enable) {
      data.inputs.push_back({"http", "HTTP ingest", "accepting POST at " + options.ingest_path});
    }
    for (const std::string& file : options.input_files) data.inputs.push_back({file, "file", ""});
    for (std::size_t i = 0; i < queues.size(); ++i) {
      double up = 0;
      FamilyValue(families, "llm_log_exporter_input_up", "source", queues[i], &up);
      if (i == 0 && !options.redis_url.empty()) {
        data.inputs.push_back({queues[i],
                               options.redis_stream.empty() ? "Redis list" : "Redis stream",
                               up != 0 ? "connected, reading" : "not connected (see the log)"});
      } else {
        data.inputs.push_back(
            {queues[i], "Kafka",
             "group " + options.kafka_group + ": " +
                 (up != 0 ? "consuming"
                          : "not consuming: no broker reachable, or not in the group yet (see "
                            "the log)")});
      }
    }
    data.config_file = options.config_file;
    reloader.Describe(&data);
    data.telemetry_path = options.telemetry_path;
    data.lifecycle = options.web_enable_lifecycle;
    data.now = std::chrono::system_clock::now();
    return RenderStatusPage(data, families);
  };
  http.addresses = options.listen;
  http.telemetry_path = options.telemetry_path;
  http.max_connections = options.web_max_connections;
  http.body_timeout_ms = options.web_body_timeout_ms;
  http.body_min_bytes_per_second = options.web_body_min_bytes_per_second;
  if (!options.web_config_file.empty()) {
    std::string error;
    if (!LoadWebConfig(options.web_config_file, &http.web, &error)) {
      std::fprintf(stderr, "llm_log_exporter: --web.config.file %s: %s\n",
                   options.web_config_file.c_str(), error.c_str());
      return 1;
    }
    http.web_config_file = options.web_config_file;  // followed: re-read when it changes
  }
  if (!options.redis_password_file.empty()) {
    // Read again at each connection (a rotated password is followed); checked now.
    std::string password, error;
    if (!ReadSecretLine(options.redis_password_file, &password, &error)) {
      std::fprintf(stderr, "llm_log_exporter: --input.redis.password-file %s: %s\n",
                   options.redis_password_file.c_str(), error.c_str());
      return 1;
    }
  }
  std::unique_ptr<HttpIngest> ingest_endpoint;
  if (options.ingest_enable) {
    std::string token;
    if (!options.ingest_bearer_token_file.empty()) {
      std::string error;
      if (!ReadSecretLine(options.ingest_bearer_token_file, &token, &error)) {
        std::fprintf(stderr, "llm_log_exporter: --ingest.bearer-token-file %s: %s\n",
                     options.ingest_bearer_token_file.c_str(), error.c_str());
        return 1;
      }
    }
    http.ingest_has_own_auth = !token.empty();
    ingest_endpoint = std::make_unique<HttpIngest>(exporter, options, std::move(token));
    http.ingest_path = options.ingest_path;
    http.ingest_max_body_bytes = options.ingest_max_body_bytes;
    http.ingest = [&ingest_endpoint](const IngestRequest& r, const BodyReader& read) {
      return ingest_endpoint->Handle(r, read);
    };
    http.ingest_refused = [&ingest_endpoint](int status) { ingest_endpoint->CountRefused(status); };
  }
  // Host metrics are the daemon's only: --once describes a log, and its
  // output must depend on the log alone (golden files compare it exactly).
  // Loaded before the server starts (its threads read `gpu`), logged once it
  // has: a start-up failure stays a one-line message.
  const ProcessCollector process;
  std::string process_error;
  const bool process_ok = process.Available(&process_error);
  std::unique_ptr<GpuCollector> gpu;
  std::string gpu_error;
  if (!options.gpu_disable) gpu = GpuCollector::Open(options.gpu_nvml_library, &gpu_error);
  HttpServer server(http, [&exporter, &process, &gpu, &flush_inputs](
                              bool with_exemplars, std::vector<Family>* families) {
    flush_inputs();
    exporter.Collect(with_exemplars, families);
    std::vector<Family> more = process.Collect();
    if (gpu) {
      std::vector<Family> gpus = gpu->Collect();
      more.insert(more.end(), std::make_move_iterator(gpus.begin()),
                  std::make_move_iterator(gpus.end()));
    }
    families->insert(families->end(), std::make_move_iterator(more.begin()),
                     std::make_move_iterator(more.end()));
  });
  std::string error;
  if (!server.Start(&error)) {
    // TLS set-up errors name their web config key ("tls_server_config.cert_file ...").
    const bool tls_error = error.rfind("tls_server_config", 0) == 0;
    std::fprintf(stderr, "llm_log_exporter: %s%s: %s\n",
                 tls_error ? "--web.config.file " : "--web.listen-address",
                 tls_error ? options.web_config_file.c_str() : "", error.c_str());
    return 1;
  }
  if (!process_ok) spdlog::info("process_* metrics off: {}", process_error);
  if (gpu) {
    spdlog::info("GPU metrics from NVML ({}): {} GPU(s)", options.gpu_nvml_library,
                 gpu->device_count());
  } else if (!options.gpu_disable) {
    spdlog::info("GPU metrics off: {}", gpu_error);
  }
  // Inputs: the files named, else stdin (if read), and the queues. Each has a reader thread.
  const Inputs inputs = MakeInputs(exporter, options, read_stdin);
  for (const auto& input : inputs) input->Start();
  live_inputs.store(&inputs);
  server.SetReady(true);
  spdlog::info("listening on {}{} (metrics at {})", FormatAll(options.listen, server.ports()),
               http.web.tls ? " with TLS" : "", options.telemetry_path);
  if (ingest_endpoint) spdlog::info("accepting log lines over HTTP at {}", options.ingest_path);
  if (!read_stdin && options.input_files.empty() && queues.empty()) {
    spdlog::info("stdin is /dev/null: not read, log lines come over HTTP only");
  }
  for (const std::string& file : options.input_files) spdlog::info("following {}", file);
  if (!options.redis_url.empty()) spdlog::info("reading {}", queues.front());
  for (std::size_t i = options.redis_url.empty() ? 0 : 1; i < queues.size(); ++i) {
    spdlog::info("consuming {} as a member of Kafka consumer group {}", queues[i],
                 options.kafka_group);
  }

  int sig = 0;
  for (;;) {
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      reloader.Reload("SIGHUP");
      continue;
    }
    break;
  }
  spdlog::info("{}: shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
  server.SetReady(false);
  for (const auto& input : inputs) input->Stop();
  for (const auto& input : inputs) input->Join();
  server.Stop();
  live_inputs.store(nullptr);
  return 0;
}

}  // namespace lle
