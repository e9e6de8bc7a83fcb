#include "llm_log_exporter/app/options.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <optional>

#include "llm_log_exporter/app/build_info.h"
#include "llm_log_exporter/app/log_format.h"
#include "llm_log_exporter/source/redis_url.h"

namespace lle {
namespace {

// A whole number in [lo, hi]: the error says which of the two a value is not
// (CLI::Range calls `abc` "not in range").
template <typename T>
CLI::Validator WholeNumber(T lo, T hi) {
  const std::string range = std::to_string(lo) + " to " + std::to_string(hi);
  return CLI::Validator(
      [lo, hi, range](std::string& text) -> std::string {
        T value{};
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (ec == std::errc::result_out_of_range) return text + " is not in range " + range;
        if (ec != std::errc() || end != text.data() + text.size()) {
          return "'" + text + "' is not a whole number";
        }
        if (value < lo || value > hi) return text + " is not in range " + range;
        return {};
      },
      "UINT in [" + std::to_string(lo) + " - " + std::to_string(hi) + "]");
}

// One line on stderr naming the flag: `--input.redis.FLAG: problem`.
bool RedisError(const char* flag, const std::string& problem) {
  std::fprintf(stderr, "llm_log_exporter: --input.redis.%s: %s\n", flag, problem.c_str());
  return false;
}

// The Redis flags: all or nothing, one key, a URL that parses.
bool CheckRedisOptions(const Options& options) {
  const bool keyed = !options.redis_stream.empty() || !options.redis_list.empty();
  if (options.redis_url.empty()) {
    if (keyed) return RedisError("url", "needed with --input.redis.stream or --input.redis.list");
    return true;
  }
  if (!options.redis_stream.empty() && !options.redis_list.empty()) {
    return RedisError("stream", "not with --input.redis.list: one key per exporter");
  }
  if (!keyed) return RedisError("url", "needs --input.redis.stream or --input.redis.list");
  std::string error;
  const std::optional<RedisUrl> url = ParseRedisUrl(options.redis_url, &error);
  if (!url) return RedisError("url", "'" + RedactRedisUrl(options.redis_url) + "': " + error);
  if (!url->password.empty() && !options.redis_password_file.empty()) {
    return RedisError("password-file", "not with a password in --input.redis.url");
  }
  if (options.redis_group.empty()) return RedisError("group", "must not be empty");
  if (options.redis_field.empty()) return RedisError("field", "must not be empty");
  if (options.once) return RedisError("url", "not with --once, which reads stdin");
  return true;
}

// Splits and checks --input.kafka.*: -1 to go on, else 2 after one line on stderr.
int ParseKafkaOptions(const std::vector<std::string>& topics, Options* out) {
  const auto fail = [](const std::string& flag, const std::string& why) {
    std::fprintf(stderr, "llm_log_exporter: %s: %s\n", flag.c_str(), why.c_str());
    return 2;
  };
  out->kafka_topics.clear();
  for (const std::string& list : topics) {
    std::size_t begin = 0;
    for (;;) {
      const std::size_t end = std::min(list.find(',', begin), list.size());
      const std::string topic = list.substr(begin, end - begin);
      // Kafka's own rule for topic names: [a-zA-Z0-9._-], 1 to 249 characters.
      const bool valid =
          !topic.empty() && topic.size() <= 249 &&
          std::all_of(topic.begin(), topic.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
          });
      if (!valid) {
        return fail("--input.kafka.topic '" + topic + "'",
                    "not a Kafka topic name ([a-zA-Z0-9._-], 1 to 249 characters)");
      }
      if (std::find(out->kafka_topics.begin(), out->kafka_topics.end(), topic) !=
          out->kafka_topics.end()) {
        return fail("--input.kafka.topic '" + topic + "'", "given twice");
      }
      out->kafka_topics.push_back(topic);
      if (end == list.size()) break;
      begin = end + 1;
    }
  }
  const bool kafka = !out->kafka_topics.empty();
  if (kafka && out->kafka_brokers.empty()) {
    return fail("--input.kafka.topic", "needs --input.kafka.brokers");
  }
  if (!kafka && !out->kafka_brokers.empty()) {
    return fail("--input.kafka.brokers", "needs --input.kafka.topic");
  }
  if (!kafka) return -1;
  if (out->once) return fail("--input.kafka.topic", "not with --once, which reads stdin");
  if (out->kafka_group.empty()) return fail("--input.kafka.group", "must not be empty");
  if (out->kafka_field.empty()) return fail("--input.kafka.field", "must not be empty");
  for (const auto* list : {&out->kafka_options, &out->kafka_option_files}) {
    const char* flag =
        list == &out->kafka_options ? "--input.kafka.option" : "--input.kafka.option-file";
    for (const std::string& option : *list) {
      const std::size_t equals = option.find('=');
      // The argument is never printed: it may be a secret given without its key.
      if (equals == 0 || equals == std::string::npos) {
        return fail(flag, "an argument is not KEY=VALUE (KEY a librdkafka property)");
      }
    }
  }
  return -1;
}

}  // namespace

int ParseOptions(int argc, const char* const* argv, Options* out) {
  CLI::App app(
      "llm_log_exporter: Prometheus metrics from the JSON request logs of an LLM inference "
      "server.\nReads log lines on stdin and serves the metrics over HTTP.\n\n"
      "  inference_server 2>&1 | llm_log_exporter\n  llm_log_exporter --once < server.log",
      "llm_log_exporter");
  app.set_version_flag("--version", VersionText(kBuildInfo));
  std::vector<std::string> listen;
  app.add_option("--web.listen-address", listen,
                 "Address to serve /metrics on (repeatable: the same endpoints on each): "
                 "[HOST]:PORT, HOST an IPv4 literal or empty for all IPv4 interfaces; port 0 "
                 "picks a free port (logged). IPv6 needs a civetweb built with it (not "
                 "Debian's)")
      ->default_str(":" + std::to_string(kDefaultPort));
  app.add_option("--web.telemetry-path", out->telemetry_path, "Path of the metrics endpoint")
      ->capture_default_str();
  app.add_option("--web.config.file", out->web_config_file,
                 "Exporter-toolkit web config (YAML): TLS, client certificates, basic auth "
                 "(bcrypt) and response headers, for every path including ingest");
  app.add_option("--web.max-connections", out->web_max_connections,
                 "Connections served at once (one worker thread each); more wait in a queue "
                 "until one ends")
      ->capture_default_str()
      ->check(WholeNumber(1, 1024));
  app.add_option("--web.body-timeout-ms", out->web_body_timeout_ms,
                 "Longest time a client may take to send a request body (the request head "
                 "has 1 s); then the connection is closed (408 on the ingest path)")
      ->capture_default_str()
      ->check(WholeNumber(100, 3600000));
  app.add_option("--web.body-min-bytes-per-second", out->web_body_min_bytes_per_second,
                 "After its first second, a request body must arrive at least this fast on "
                 "average, else it is cut like one over --web.body-timeout-ms; 0: no minimum")
      ->capture_default_str()
      ->check(WholeNumber(std::size_t{0}, std::size_t{1} << 30));
  app.add_option("--input.max-line-bytes", out->max_line_bytes,
                 "Longer lines are dropped without being buffered and counted as "
                 "result=\"too_long\"")
      ->capture_default_str()
      ->check(WholeNumber(std::size_t{1}, std::size_t{1} << 30));
  app.add_option("--input.buffer-bytes", out->input_buffer_bytes,
                 "Memory for input not yet parsed. When it is full, stdin is still drained "
                 "(the writer never blocks) and lines that find no room are counted as "
                 "result=\"dropped\"; --once, and a regular file as stdin, wait instead")
      ->capture_default_str()
      ->check(WholeNumber(std::size_t{64} * 1024, std::size_t{1} << 30));
  app.add_option("--input.drop-after-ms", out->input_drop_after_ms,
                 "How long a full input buffer may hold up reading stdin before lines are "
                 "dropped: a writer faster than the exporter is paced for at most this long "
                 "at a time; a stalled pipeline never blocks it longer")
      ->capture_default_str()
      ->check(WholeNumber(std::size_t{0}, std::size_t{60000}));
  app.add_option("--input.workers", out->input_workers,
                 "Threads that parse and apply lines (a reader thread comes on top, which works "
                 "a slow input itself with an idle worker's pipeline)")
      ->capture_default_str()
      ->check(WholeNumber(std::size_t{1}, std::size_t{64}));
  app.add_option("--input.file", out->input_files,
                 "Follow this log file like `tail -F` instead of reading stdin (repeatable): "
                 "survives rename rotation, copytruncate and delete + create");
  app.add_flag("--input.file.from-beginning", out->input_from_beginning,
               "Read files named by --input.file from their start, not their end");
  app.add_option("--input.redis.url", out->redis_url,
                 "Read log lines from Redis (with --input.redis.stream or --input.redis.list): "
                 "redis://[USER[:PASSWORD]@]HOST[:PORT][/DB] or unix:///PATH[?db=DB]; no TLS "
                 "(see docs/inputs.md)");
  app.add_option("--input.redis.stream", out->redis_stream,
                 "Redis stream read in the consumer group --input.redis.group (created at the "
                 "stream's end if missing); entries are acknowledged once their lines are counted");
  app.add_option("--input.redis.list", out->redis_list,
                 "Redis list that writers RPUSH lines to; each line is moved to this "
                 "consumer's processing list LIST:processing:CONSUMER until it is counted");
  app.add_option("--input.redis.group", out->redis_group,
                 "Consumer group of --input.redis.stream: exporters in one group share its "
                 "entries")
      ->capture_default_str();
  app.add_option("--input.redis.consumer", out->redis_consumer,
                 "This exporter's consumer name in the group (and its processing list): keep it "
                 "stable across restarts, so that a restart re-reads what it had not acknowledged "
                 "(default: the host name)");
  app.add_option("--input.redis.field", out->redis_field,
                 "Field of a stream entry that holds the log line; an entry without it is "
                 "acknowledged and counted in llm_log_exporter_input_entries_skipped_total "
                 "(reason missing_field)")
      ->capture_default_str();
  app.add_option("--input.redis.claim-idle-ms", out->redis_claim_idle_ms,
                 "Stream entries another consumer has read but not acknowledged for this long "
                 "are claimed (XAUTOCLAIM) and counted here: that consumer is taken as dead")
      ->capture_default_str()
      ->check(WholeNumber(std::size_t{100}, std::size_t{86400000}));
  app.add_option("--input.redis.password-file", out->redis_password_file,
                 "File holding the Redis password (AUTH; with the URL's user for an ACL user)");
  std::vector<std::string> kafka_topics;
  app.add_option("--input.kafka.brokers", out->kafka_brokers,
                 "Read log lines from Kafka: its bootstrap brokers, HOST:PORT[,HOST:PORT...] "
                 "(with --input.kafka.topic)");
  app.add_option("--input.kafka.topic", kafka_topics,
                 "Kafka topic to consume (repeatable, or a comma list); each is a `source` "
                 "kafka://FIRST_BROKER/TOPIC");
  app.add_option("--input.kafka.group", out->kafka_group,
                 "Kafka consumer group: exporters of one group share the partitions (sum "
                 "their metrics in Prometheus)")
      ->capture_default_str();
  app.add_option("--input.kafka.start", out->kafka_start,
                 "Where a group with no committed offset starts: latest (new messages only) "
                 "or earliest (all the topic holds); later starts resume from the commits")
      ->capture_default_str()
      ->check(CLI::IsMember({"earliest", "latest"}));
  app.add_option("--input.kafka.format", out->kafka_format,
                 "A message's value: raw (one or more log lines) or json (an envelope with "
                 "the line in --input.kafka.field, as Fluent Bit or Vector write)")
      ->capture_default_str()
      ->check(CLI::IsMember({"raw", "json"}));
  app.add_option("--input.kafka.field", out->kafka_field,
                 "With --input.kafka.format=json: the envelope's field holding the line "
                 "(Fluent Bit: log, Vector: message)")
      ->capture_default_str();
  app.add_option("--input.kafka.option", out->kafka_options,
                 "A librdkafka consumer property, KEY=VALUE (repeatable): TLS, SASL, "
                 "timeouts... (see librdkafka's CONFIGURATION.md)");
  app.add_option("--input.kafka.option-file", out->kafka_option_files,
                 "A librdkafka property whose value is the first line of a file, KEY=PATH "
                 "(repeatable): a secret such as sasl.password, never logged");
  app.add_flag("--ingest.enable", out->ingest_enable,
               "Accept log lines over HTTP (Fluent Bit's `http` output) on --ingest.path, "
               "besides stdin");
  app.add_option("--ingest.path", out->ingest_path,
                 "Path of the HTTP ingest endpoint (POST or PUT)")
      ->capture_default_str();
  app.add_option("--ingest.max-body-bytes", out->ingest_max_body_bytes,
                 "Largest ingest body, also once decompressed; larger ones get 413")
      ->capture_default_str()
      ->check(WholeNumber(std::size_t{1024}, std::size_t{1} << 30));
  app.add_option("--ingest.memory-budget-bytes", out->ingest_memory_budget_bytes,
                 "Memory for ingest bodies being read, decoded and framed, all requests "
                 "together; a request that would go over gets 503 with Retry-After (413 if "
                 "it could not fit alone)")
      ->capture_default_str()
      ->check(WholeNumber(std::size_t{1} << 20, std::size_t{1} << 40));
  app.add_option("--ingest.bearer-token-file", out->ingest_bearer_token_file,
                 "File holding a token that ingest requests must send as "
                 "`Authorization: Bearer TOKEN` (else 401)");
  app.add_option("--config.file", out->config_file,
                 "YAML (or JSON) file mapping log fields to metrics (see config/); without "
                 "it the built-in qwen preset (config/qwen.yaml) is used. Reloaded on SIGHUP "
                 "and POST /-/reload");
  app.add_option("--store.max-bytes", out->store_max_bytes,
                 "Largest memory the config's metrics may take once every series its label "
                 "caps allow exists, in every writer's copy (input workers, followed files, "
                 "HTTP ingest); a bigger config is refused at start, reload and "
                 "--check-config. A reload holds the old store too: allow twice this")
      ->capture_default_str()
      ->check(WholeNumber(std::size_t{1} << 20, std::size_t{1} << 40));
  app.add_flag("--check-config", out->check_config,
               "Validate --config.file (or the built-in preset), print the metrics it "
               "defines and exit: 0 if valid, 1 if not; opens no port");
  app.add_flag("--audit.sensitive", out->audit_sensitive,
               "Count lines that look like they carry secrets or personal data (API keys, "
               "bearer tokens, e-mail addresses, private keys) in "
               "<namespace>_log_sensitive_lines_total{kind}; the text is never kept");
  app.add_flag("--web.enable-lifecycle", out->web_enable_lifecycle,
               "Enable POST /-/reload (reload --config.file over HTTP)");
  app.add_option("--gpu.nvml-library", out->gpu_nvml_library,
                 "NVML library loaded at start for the nvml_gpu_* metrics (a file name "
                 "searched as the dynamic loader does, or a path); if it cannot be loaded, "
                 "the GPU metrics are absent")
      ->capture_default_str();
  app.add_flag("--gpu.disable", out->gpu_disable, "Do not load NVML: no nvml_gpu_* metrics");
  app.add_option("--log.level", out->log_level, "Minimum level of the exporter's own log")
      ->capture_default_str()
      ->check(CLI::IsMember({"debug", "info", "warn", "error", "off"}));
  app.add_option("--log.format", out->log_format,
                 "Format of the exporter's own log lines on stderr: plain (`TIME LEVEL "
                 "message`), logfmt (`ts=TIME level=LEVEL msg=\"message\"`, as node_exporter) "
                 "or json (one object per line: ts, level, msg)")
      ->capture_default_str()
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            if (ParseLogFormat(text)) return {};
            return "'" + text + "' is not plain, logfmt or json";
          },
          "plain|logfmt|json"));
  app.add_flag("--once", out->once,
               "Read stdin to EOF, print the exposition to stdout and exit 0 (no port opened)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "llm_log_exporter: %s (see --help)\n", e.what());
    return 2;
  }
  if (listen.empty()) listen.push_back(":" + std::to_string(kDefaultPort));
  out->listen.clear();
  for (const std::string& text : listen) {
    std::string error;
    const auto address = ParseListenAddress(text, &error);
    if (address && address->port != 0) {
      for (const ListenAddress& before : out->listen) {
        if (before.host == address->host && before.port == address->port) error = "given twice";
      }
    }
    if (!address || !error.empty()) {
      std::fprintf(stderr, "llm_log_exporter: --web.listen-address '%s': %s\n", text.c_str(),
                   error.c_str());
      return 2;
    }
    out->listen.push_back(*address);
  }
  const std::string& path = out->telemetry_path;
  if (path.empty() || path[0] != '/' || path == "/" || path.rfind("/-/", 0) == 0) {
    std::fprintf(stderr,
                 "llm_log_exporter: --web.telemetry-path '%s': must start with '/' and not be "
                 "'/' or under '/-/'\n",
                 path.c_str());
    return 2;
  }
  for (std::size_t i = 0; i < out->input_files.size(); ++i) {
    const std::string& file = out->input_files[i];
    // Each file is a `source` label value: it must not repeat or take a built-in one.
    const bool repeated = std::find(out->input_files.begin(), out->input_files.begin() + i, file) !=
                          out->input_files.begin() + i;
    if (repeated || file == "stdin" || file == "http" || file.empty()) {
      std::fprintf(
          stderr, "llm_log_exporter: --input.file '%s': %s\n", file.c_str(),
          repeated ? "given twice" : "not a usable name (write ./stdin for a file so named)");
      return 2;
    }
  }
  if (const int code = ParseKafkaOptions(kafka_topics, out); code >= 0) return code;
  if (out->check_config && out->once) {
    std::fprintf(stderr, "llm_log_exporter: --check-config: not with --once\n");
    return 2;
  }
  if (out->once && !out->input_files.empty()) {
    std::fprintf(stderr, "llm_log_exporter: --input.file: not with --once, which reads stdin\n");
    return 2;
  }
  if (!CheckRedisOptions(*out)) return 2;
  if (out->gpu_nvml_library.empty()) {
    // dlopen("") would return the executable itself.
    std::fprintf(stderr, "llm_log_exporter: --gpu.nvml-library: must not be empty\n");
    return 2;
  }
  const std::string& ingest = out->ingest_path;
  if (ingest.empty() || ingest[0] != '/' || ingest == path || ingest.rfind("/-/", 0) == 0) {
    std::fprintf(stderr,
                 "llm_log_exporter: --ingest.path '%s': must start with '/', differ from "
                 "--web.telemetry-path and not be under '/-/'\n",
                 ingest.c_str());
    return 2;
  }
  return -1;
}

}  // namespace lle
