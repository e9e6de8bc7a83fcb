#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "llm_log_exporter/app/exporter.h"
#include "llm_log_exporter/app/options.h"
#include "llm_log_exporter/app/pipeline.h"
#include "llm_log_exporter/exposition/http_server.h"

namespace lle {

/// The HTTP ingest endpoint's logic (what Fluent Bit's `http` output sends):
/// authorises, decodes gzip within the size limit, cuts the body into lines and
/// works them synchronously, so a 2xx means every line is counted. Owns a
/// fixed pool of pipelines (each with its own shard): a request that finds
/// none free gets 429 + Retry-After, which Fluent Bit retries. Thread-safe.
class HttpIngest {
 public:
  /// `bearer_token` empty: no authorisation required.
  HttpIngest(Exporter& exporter, const Options& options, std::string bearer_token);

  HttpReply Handle(const IngestRequest& request);

  /// Concurrent ingest requests (one pipeline each); more get 429. Leaves
  /// civetweb workers for scrapes.
  static constexpr std::size_t kPipelines = 2;

 private:
  HttpReply Reply(int status, std::string body = {}, std::string extra_headers = {});
  std::unique_ptr<Pipeline> TakePipeline();
  void ReturnPipeline(std::unique_ptr<Pipeline> pipeline);

  Exporter& exporter_;
  std::string bearer_token_;
  std::size_t max_body_bytes_;
  std::mutex mutex_;  // guards idle_ and control_
  std::vector<std::unique_ptr<Pipeline>> idle_;
  Shard* control_;  // per-request counters, written under mutex_
};

}  // namespace lle
