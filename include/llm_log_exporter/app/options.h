#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "llm_log_exporter/exposition/listen_address.h"

namespace lle {

/// Everything the command line sets; a plain value.
struct Options {
  std::vector<ListenAddress> listen;  // one or more (--web.listen-address is repeatable)
  std::string telemetry_path = "/metrics";
  std::string web_config_file;  // empty: plain HTTP, no auth
  int web_max_connections = 8;
  int web_body_timeout_ms = 30000;
  std::size_t web_body_min_bytes_per_second = 16 * 1024;
  std::size_t max_line_bytes = 1024 * 1024;
  std::size_t input_buffer_bytes = 4 * 1024 * 1024;
  std::size_t input_workers = 2;
  std::size_t input_drop_after_ms = 100;
  std::vector<std::string> input_files;
  bool input_from_beginning = false;
  // The Redis input (docs/inputs.md): a stream read in a consumer group, or
  // a list; none if the URL is empty.
  std::string redis_url;
  std::string redis_stream;
  std::string redis_list;
  std::string redis_group = "llm_log_exporter";
  std::string redis_consumer;  // empty: the host name
  std::string redis_field = "message";
  std::size_t redis_claim_idle_ms = 60000;
  std::string redis_password_file;
  // --input.kafka.*: a Kafka consumer group (KafkaInput); no topic, no Kafka.
  std::string kafka_brokers;              // bootstrap.servers: HOST:PORT[,HOST:PORT...]
  std::vector<std::string> kafka_topics;  // comma lists split, each once
  std::string kafka_group = "llm_log_exporter";
  std::string kafka_start = "latest";           // earliest or latest: where a new group starts
  std::string kafka_format = "raw";             // raw or json
  std::string kafka_field = "log";              // json: the field holding the line(s)
  std::vector<std::string> kafka_options;       // librdkafka KEY=VALUE, in order
  std::vector<std::string> kafka_option_files;  // librdkafka KEY=PATH (value read from PATH)
  bool ingest_enable = false;
  std::string ingest_path = "/api/v1/logs";
  std::size_t ingest_max_body_bytes = 16 * 1024 * 1024;
  std::size_t ingest_memory_budget_bytes = 64 * 1024 * 1024;
  std::string ingest_bearer_token_file;
  std::string config_file;  // empty: the built-in preset
  std::size_t store_max_bytes = std::size_t{32} << 20;
  bool check_config = false;
  bool web_enable_lifecycle = false;
  bool audit_sensitive = false;
  std::string gpu_nvml_library = "libnvidia-ml.so.1";
  bool gpu_disable = false;
  std::string log_level = "info";
  std::string log_format = "plain";  // plain, logfmt or json (checked: ParseLogFormat)
  bool once = false;
};

/// The default port: clear of vLLM (8000), TGI (8080), node_exporter (9100),
/// Prometheus (9090), Grafana (3000), DCGM exporter (9400), mtail (3903).
inline constexpr int kDefaultPort = 9879;

/// Parses argv into `*out`. Returns -1 to go on, else the exit code to stop
/// with: 0 after --help/--version, 2 on a usage error (one line on stderr).
int ParseOptions(int argc, const char* const* argv, Options* out);

}  // namespace lle
