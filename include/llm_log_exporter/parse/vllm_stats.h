#pragma once

#include <optional>
#include <string_view>

namespace lle {

/// What a vLLM periodic stats line says; a field is set only if the line
/// carries it, with the expected unit, as a finite number >= 0.
struct VllmStats {
  std::optional<int> engine;                       // "Engine 000: " (v1 engines, data parallel)
  std::optional<double> prompt_throughput;         // tokens/s, "Avg prompt throughput"
  std::optional<double> generation_throughput;     // tokens/s, "Avg generation throughput"
  std::optional<double> running;                   // requests, "Running"
  std::optional<double> waiting;                   // requests, "Pending" (v0) or "Waiting" (v1)
  std::optional<double> swapped;                   // requests, "Swapped" (v0 only)
  std::optional<double> gpu_kv_cache_usage_ratio;  // 0-1, "GPU KV cache usage" / 100
  std::optional<double> cpu_kv_cache_usage_ratio;  // 0-1, "CPU KV cache usage" / 100 (v0)
  std::optional<double> prefix_cache_hit_ratio;    // 0-1, "Prefix cache hit rate" / 100 (v1)
};

/// True, with `*out` reset and filled, if `line` holds vLLM's periodic stats
/// message (`Avg prompt throughput: X tokens/s, Avg generation throughput: Y
/// tokens/s, Running: N reqs, ...`) wherever it starts (after any log header),
/// from v0 (`..., Swapped: S reqs, Pending: M reqs, GPU KV cache usage: P%,
/// CPU KV cache usage: Q%.`) to v1 (`Engine 000: ..., Waiting: M reqs, GPU KV
/// cache usage: P%, Prefix cache hit rate: R%`). Unknown fields are skipped.
bool ParseVllmStats(std::string_view line, VllmStats* out);

}  // namespace lle
