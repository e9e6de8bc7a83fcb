#include "llm_log_exporter/app/self_metrics.h"

#include <iterator>
#include <string>
#include <utility>

namespace lle {
namespace {

const char* const kResultNames[] = {"request",      "event",    "not_json",
                                    "invalid_utf8", "too_long", "dropped"};
static_assert(sizeof kResultNames / sizeof kResultNames[0] ==
              static_cast<std::size_t>(LineResult::kNumResults));

const char* const kSkippedNames[] = {"missing_field", "trimmed",    "empty",
                                     "not_json",      "not_object", "field_not_string"};
static_assert(sizeof kSkippedNames / sizeof kSkippedNames[0] ==
              static_cast<std::size_t>(SkippedEntry::kNumReasons));

}  // namespace

const char* LineResultName(LineResult result) {
  return kResultNames[static_cast<std::size_t>(result)];
}

const char* SkippedEntryName(SkippedEntry reason) {
  return kSkippedNames[static_cast<std::size_t>(reason)];
}

SelfMetrics::SelfMetrics(std::vector<std::string> sources, std::size_t files_count,
                         std::uint32_t first_metric, const lle::BuildInfo& build_info,
                         bool http_ingest, std::size_t queues_count)
    : first_metric_(first_metric), first_queue_source_(sources.size() - queues_count) {
  // The followed files, then the queue inputs: the last sources.
  const auto queues_begin = sources.end() - static_cast<std::ptrdiff_t>(queues_count);
  std::vector<std::string> files(queues_begin - static_cast<std::ptrdiff_t>(files_count),
                                 queues_begin);
  std::vector<std::string> queues(queues_begin, sources.end());
  MetricSpec lines;
  lines.name = "llm_log_exporter_lines_total";
  lines.help = "Lines received, by source and by what they were (each line counts once)";
  lines.labels = {FixedLabel("source", sources),
                  FixedLabel("result", {std::begin(kResultNames), std::end(kResultNames)})};
  MetricSpec bytes;
  bytes.name = "llm_log_exporter_bytes_total";
  bytes.help = "Bytes received, by source";
  bytes.labels = {FixedLabel("source", std::move(sources))};
  MetricSpec build;
  build.name = "llm_log_exporter_build_info";
  build.help = "Build of the running exporter; value is always 1";
  build.type = MetricType::kGauge;
  // node_exporter's labels (goversion becomes compiler), in its order.
  build.labels = {FixedLabel("branch", {build_info.branch}),
                  FixedLabel("compiler", {build_info.compiler}),
                  FixedLabel("revision", {build_info.revision}),
                  FixedLabel("version", {build_info.version})};
  MetricSpec reloads;
  reloads.name = "llm_log_exporter_config_reloads_total";
  reloads.help = "Config reloads (SIGHUP or POST /-/reload), by outcome";
  reloads.labels = {FixedLabel("outcome", {"success", "failure"})};
  MetricSpec last_reload;
  last_reload.name = "llm_log_exporter_config_last_reload_successful";
  last_reload.help = "1 if the last config (re)load succeeded, 0 if the old config is still in use";
  last_reload.type = MetricType::kGauge;
  specs_ = {std::move(lines), std::move(bytes), std::move(build), std::move(reloads),
            std::move(last_reload)};
  if (http_ingest) {
    MetricSpec ingest;
    ingest.name = "llm_log_exporter_http_ingest_requests_total";
    ingest.help = "Requests to the HTTP ingest endpoint, by status code answered";
    std::vector<std::string> codes;
    for (int code : kIngestCodes) codes.push_back(std::to_string(code));
    ingest.labels = {FixedLabel("code", std::move(codes))};
    specs_.push_back(std::move(ingest));
    MetricSpec unreadable;
    unreadable.name = "llm_log_exporter_http_ingest_unreadable_bodies_total";
    unreadable.help =
        "Bodies the HTTP ingest endpoint answered 400 because they can never be read, by reason";
    std::vector<std::string> reasons;
    for (std::uint32_t i = 0; i < static_cast<std::uint32_t>(BodyError::kNumErrors); ++i) {
      reasons.emplace_back(BodyErrorName(static_cast<BodyError>(i)));
    }
    unreadable.labels = {FixedLabel("reason", std::move(reasons))};
    specs_.push_back(std::move(unreadable));
  }
  if (!files.empty()) {
    MetricSpec readable;
    readable.name = "llm_log_exporter_input_file_readable";
    readable.help =
        "1 while the followed file is open and read, 0 while it is missing or cannot be opened "
        "(the log says why)";
    readable.type = MetricType::kGauge;
    readable.labels = {FixedLabel("source", std::move(files))};
    file_readable_ = AddSpec(std::move(readable));
  }
  if (!queues.empty()) AddQueues(std::move(queues));
}

std::uint32_t SelfMetrics::AddSpec(MetricSpec spec) {
  specs_.push_back(std::move(spec));
  return first_metric_ + static_cast<std::uint32_t>(specs_.size() - 1);
}

void SelfMetrics::AddQueues(std::vector<std::string> queues) {
  MetricSpec up;
  up.name = "llm_log_exporter_input_up";
  up.help =
      "1 while the queue input (Redis, Kafka) is connected and reading, 0 while it is not (it "
      "reconnects; Kafka: no partitions assigned yet; the log says why)";
  up.type = MetricType::kGauge;
  up.labels = {FixedLabel("source", queues)};
  input_up_ = AddSpec(std::move(up));
  MetricSpec reconnects;
  reconnects.name = "llm_log_exporter_input_reconnects_total";
  reconnects.help = "Times the queue input connects again after its connection was lost or an "
                    "attempt failed";
  reconnects.labels = {FixedLabel("source", queues)};
  input_reconnects_ = AddSpec(std::move(reconnects));
  MetricSpec skipped;
  skipped.name = "llm_log_exporter_input_entries_skipped_total";
  skipped.help =
      "Queue entries (Redis entries, Kafka messages) that gave no line, by reason; acknowledged "
      "(offsets committed) all the same";
  skipped.labels = {FixedLabel("source", std::move(queues)),
                    FixedLabel("reason", {std::begin(kSkippedNames), std::end(kSkippedNames)})};
  entries_skipped_ = AddSpec(std::move(skipped));
}

Update SelfMetrics::FileReadable(std::size_t file, bool readable) const {
  return {file_readable_, static_cast<std::uint32_t>(file), readable ? 1.0 : 0.0, {}};
}

Update SelfMetrics::IngestRequest(int code) const {
  std::uint32_t series = 0;
  while (series < std::size(kIngestCodes) && kIngestCodes[series] != code) ++series;
  return {first_metric_ + kIngestRequests, series, 1, {}};  // out of range: ignored by the store
}

Update SelfMetrics::Line(std::size_t source, LineResult result, std::uint64_t lines) const {
  const auto series =
      static_cast<std::uint32_t>(source) * static_cast<std::uint32_t>(LineResult::kNumResults) +
      static_cast<std::uint32_t>(result);
  return {first_metric_ + kLines, series, static_cast<double>(lines), {}};
}

Update SelfMetrics::Bytes(std::size_t source, std::size_t bytes) const {
  return {
      first_metric_ + kBytes, static_cast<std::uint32_t>(source), static_cast<double>(bytes), {}};
}

}  // namespace lle
