#include "llm_log_exporter/map/qwen_preset.h"

#include <utility>

namespace lle {
namespace {

// Field indices, in the order of RuleSet::fields below.
enum Field : int {
  kStatus,
  kTotalTime,
  kQueueTime,
  kInferenceTime,
  kInputTokens,
  kOutputTokens,
  kGpuMemory,
};

// vLLM's request latency buckets (seconds): LLM requests last from well under
// a second to many minutes, and 31 % of a realistic mix exceed the seed's 5 s.
const std::vector<double> kLatencySeconds = {0.3,  0.5,   0.8,   1.0,   1.5,   2.0,    2.5,
                                             5.0,  10.0,  15.0,  20.0,  30.0,  40.0,   50.0,
                                             60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};
// vLLM's time-per-output-token buckets (seconds).
const std::vector<double> kPerTokenSeconds = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,
                                              0.3,  0.4,   0.5,  0.75,  1.0, 2.5,  5.0,
                                              7.5,  10.0,  20.0, 40.0,  80.0};
constexpr double kMsPerSecond = 1000;
constexpr double kMebibyte = 1024.0 * 1024.0;
// Qwen2.5-7B limits: 128 Ki context, 8 Ki generated tokens.
constexpr double kMaxPromptTokens = 131072;
constexpr double kMaxGenerationTokens = 8192;

}  // namespace

RuleSet QwenPreset() {
  RuleSet r;
  r.fields = {"status",       "total_time_ms", "queue_time_ms", "inference_time_ms",
              "input_tokens", "output_tokens", "gpu_memory_mb"};
  r.request_keys = {"status", "total_time_ms"};

  auto metric = [&r](std::string name, std::string help, MetricType type,
                     std::vector<double> buckets = {}) {
    MetricSpec spec;
    spec.name = std::move(name);
    spec.help = std::move(help);
    spec.type = type;
    spec.buckets = std::move(buckets);
    spec.initial_series = {{}};
    r.metrics.push_back(std::move(spec));
    return static_cast<std::uint32_t>(r.metrics.size() - 1);
  };
  auto rule = [&r](std::uint32_t m, RuleKind kind, int field, double scale = 1,
                   double divide_by = 1, int divisor_field = -1) {
    MetricRule mr;
    mr.metric = m;
    mr.kind = kind;
    mr.field = field;
    mr.scale = scale;
    mr.divide_by = divide_by;
    mr.divisor_field = divisor_field;
    r.rules.push_back(mr);
  };

  // Seed-compatible series: names, units and buckets exactly as the seed's.
  const auto requests =
      metric("qwen_requests_total", "Total number of requests", MetricType::kCounter);
  MetricSpec& req = r.metrics[requests];
  req.label_names = {"status"};
  req.initial_series = {{"success"}, {"error"}, {"timeout"}};
  req.max_series = 16;
  MetricRule count;
  count.metric = requests;
  count.kind = RuleKind::kCountLine;
  count.label_field = kStatus;
  r.rules.push_back(count);

  rule(metric("qwen_request_duration_ms", "Request duration in milliseconds (seed series)",
              MetricType::kHistogram, {100, 500, 1000, 2000, 5000}),
       RuleKind::kObserveField, kTotalTime);
  rule(metric("qwen_input_tokens", "Number of input tokens per request (seed series)",
              MetricType::kHistogram, {256, 512, 1024, 2048, 4096, 8192}),
       RuleKind::kObserveField, kInputTokens);
  rule(metric("qwen_output_tokens", "Number of output tokens per request (seed series)",
              MetricType::kHistogram, {64, 128, 256, 512, 1024, 2048}),
       RuleKind::kObserveField, kOutputTokens);
  rule(metric("qwen_gpu_memory_mb", "GPU memory usage in MB, last value seen (seed series)",
              MetricType::kGauge),
       RuleKind::kSetField, kGpuMemory);

  // Base-unit series, with buckets wide enough for LLM tails.
  rule(metric("qwen_request_duration_seconds", "End-to-end request latency (total_time_ms)",
              MetricType::kHistogram, kLatencySeconds),
       RuleKind::kObserveField, kTotalTime, 1, kMsPerSecond);
  rule(metric("qwen_request_queue_duration_seconds", "Time requests spent queued (queue_time_ms)",
              MetricType::kHistogram, kLatencySeconds),
       RuleKind::kObserveField, kQueueTime, 1, kMsPerSecond);
  rule(metric("qwen_request_inference_duration_seconds",
              "Time requests spent in inference (inference_time_ms)", MetricType::kHistogram,
              kLatencySeconds),
       RuleKind::kObserveField, kInferenceTime, 1, kMsPerSecond);
  rule(metric("qwen_time_per_output_token_seconds",
              "Inference time per generated token (inference_time_ms / output_tokens), "
              "requests with output_tokens > 0",
              MetricType::kHistogram, kPerTokenSeconds),
       RuleKind::kObserveRatio, kInferenceTime, 1, kMsPerSecond, kOutputTokens);
  rule(metric("qwen_prompt_tokens_total", "Prompt (input) tokens processed", MetricType::kCounter),
       RuleKind::kAddField, kInputTokens);
  rule(metric("qwen_generation_tokens_total", "Generated (output) tokens", MetricType::kCounter),
       RuleKind::kAddField, kOutputTokens);
  rule(metric("qwen_request_prompt_tokens", "Prompt (input) tokens per request",
              MetricType::kHistogram, OneTwoFiveBuckets(kMaxPromptTokens)),
       RuleKind::kObserveField, kInputTokens);
  rule(metric("qwen_request_generation_tokens", "Generated (output) tokens per request",
              MetricType::kHistogram, OneTwoFiveBuckets(kMaxGenerationTokens)),
       RuleKind::kObserveField, kOutputTokens);
  rule(metric("qwen_gpu_memory_used_bytes", "GPU memory used, last value seen (gpu_memory_mb)",
              MetricType::kGauge),
       RuleKind::kSetField, kGpuMemory, kMebibyte);
  rule(metric("qwen_last_request_timestamp_seconds",
              "Unix time at which the exporter read the last request line", MetricType::kGauge),
       RuleKind::kSetLineTime, -1);
  return r;
}

}  // namespace lle
