#pragma once

// A realistic log generated in code, so that the benchmarks and the
// profile-guided build need no files: used by lle_bench and lle_sample_log.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <ctime>
#include <random>
#include <string>

#include "llm_log_exporter/parse/record.h"

namespace lle {

/// A realistic request log: 93 % request lines in
/// the seed's format, 3 % JSON events, 4 % non-JSON lines. Deterministic for a
/// given seed and libstdc++. Not thread-safe.
class LogGenerator {
 public:
  explicit LogGenerator(std::uint64_t seed) : rng_(seed) {}

  /// Appends one line without its '\n'; returns what it must parse as.
  LineKind Next(std::string& out) {
    time_ += Uniform() < 0.05 ? 1 : 0;  // ~20 lines per second of log time
    const double u = Uniform();
    if (u < 0.93) {
      Request(out);
      return LineKind::kRequest;
    }
    if (u < 0.96) {
      Event(out);
      return LineKind::kEvent;
    }
    NotJson(out);
    return LineKind::kNotJson;
  }

 private:
  double Uniform() { return std::uniform_real_distribution<double>(0, 1)(rng_); }
  double LogNormal(double median, double sigma) {
    return std::lognormal_distribution<double>(std::log(median), sigma)(rng_);
  }
  double Exponential(double mean) { return std::exponential_distribution<double>(1 / mean)(rng_); }
  static long Clamp(double v, long lo, long hi) { return std::clamp(static_cast<long>(v), lo, hi); }

  void Timestamp(std::string& out, const char* format) {
    const std::time_t t = time_;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    out.append(buf, std::strftime(buf, sizeof buf, format, &tm));
  }

  void Request(std::string& out) {
    static constexpr char kAlnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    const double s = Uniform();
    const char* status = s < 0.945 ? "success" : s < 0.98 ? "error" : "timeout";
    // Input tokens: mostly chat-sized prompts, a long-context tail up to 128 Ki.
    const long input = Uniform() < 0.97
                           ? Clamp(LogNormal(900, 1.0), 1, 131072)
                           : Clamp(16384 * std::exp(Uniform() * std::log(8.0)), 1, 131072);
    long output = 0;
    long queue = Clamp(Uniform() < 0.7 ? Exponential(15) : Exponential(400), 0, 600000);
    long inference = 0;
    if (status[0] == 's') {
      // 5 % stop exactly at a max_tokens value: those sit on bucket bounds.
      static constexpr long kMaxTokens[] = {512, 1024, 2048, 4096, 8192};
      output = Uniform() < 0.05 ? kMaxTokens[static_cast<int>(Uniform() * 5) % 5]
                                : Clamp(LogNormal(230, 1.0), 1, 8192);
      inference = Clamp(input * 0.05 + output * (20 + 40 * Uniform()), 1, 3600000);
    } else if (status[0] == 'e') {
      inference = Clamp(5 + 195 * Uniform(), 1, 1000);
    } else {
      static constexpr long kDeadlines[] = {30000, 60000, 120000};
      const long deadline = kDeadlines[static_cast<int>(Uniform() * 3) % 3];
      queue = std::min(queue, deadline / 2);
      inference = deadline - queue + Clamp(Uniform() * 50, 0, 50);
      output = Clamp(LogNormal(900, 0.8), 1, 8192);
    }
    // GPU memory: a mean-reverting walk with rare spikes, as a real server's.
    gpu_mb_ += (30000 - gpu_mb_) * 0.01 + (Uniform() - 0.5) * 600 + (Uniform() < 0.002 ? 20000 : 0);
    gpu_mb_ = std::clamp(gpu_mb_, 15000.0, 80000.0);

    out += "{\"timestamp\":\"";
    Timestamp(out, "%Y-%m-%dT%H:%M:%SZ");
    out += "\",\"request_id\":\"req_";
    for (int i = 0; i < 9; ++i) out += kAlnum[static_cast<int>(Uniform() * 36) % 36];
    out += "\",\"method\":\"POST\",\"path\":\"";
    out += Uniform() < 0.8 ? "/v1/chat/completions" : "/v1/completions";
    out += "\",\"input_tokens\":" + std::to_string(input);
    out += ",\"output_tokens\":" + std::to_string(output);
    out += ",\"total_time_ms\":" + std::to_string(queue + inference);
    out += ",\"queue_time_ms\":" + std::to_string(queue);
    out += ",\"inference_time_ms\":" + std::to_string(inference);
    out += ",\"gpu_memory_mb\":" + std::to_string(static_cast<long>(gpu_mb_));
    out += ",\"status\":\"";
    out += status;
    out += "\"}";
  }

  void Event(std::string& out) {
    static constexpr const char* kMessages[] = {
        "KV cache usage above 90%, preempting requests",
        "Sequence group preempted by PreemptionMode.RECOMPUTE",
        "health check returned {\\\"status\\\": \\\"degraded\\\"}",  // escaped quotes
        "Client disconnected before the response was sent",
    };
    out += "{\"timestamp\":\"";
    Timestamp(out, "%Y-%m-%dT%H:%M:%SZ");
    out += Uniform() < 0.8 ? "\",\"level\":\"warning\"" : "\",\"level\":\"error\"";
    out += ",\"message\":\"";
    out += kMessages[static_cast<int>(Uniform() * 4) % 4];
    out += "\"}";
  }

  void NotJson(std::string& out) {
    switch (static_cast<int>(Uniform() * 8)) {
      case 0:  // vLLM's periodic stats line
        out += "INFO ";
        Timestamp(out, "%m-%d %H:%M:%S");
        out += " metrics.py:351] Avg prompt throughput: " +
               std::to_string(Clamp(Uniform() * 5000, 0, 5000)) +
               ".0 tokens/s, Avg generation throughput: 412.3 tokens/s, Running: 12 reqs, "
               "Swapped: 0 reqs, Pending: 0 reqs, GPU KV cache usage: 41.2%, CPU KV cache usage: "
               "0.0%.";
        break;
      case 1:  // uvicorn access line
        out += "INFO:     10.0.3.17:" + std::to_string(30000 + Clamp(Uniform() * 30000, 0, 30000)) +
               " - \"POST /v1/chat/completions HTTP/1.1\" 200 OK";
        break;
      case 2:
        out += "Traceback (most recent call last):";
        break;
      case 3:
        out +=
            "  File \"/usr/lib/python3/dist-packages/vllm/engine/async_llm_engine.py\", line 812, "
            "in generate";
        break;
      case 4:
        out += "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB";
        break;
      case 5:  // a Python dict repr: starts with '{', is not JSON
        out += "{'request_id': 'req_a1b2c3d4e', 'status': 'error', 'total_time_ms': 1234}";
        break;
      case 6: {  // a partial write: any strict prefix of a request object is invalid
        std::string full;
        Request(full);
        out.append(full, 0, 10 + static_cast<std::size_t>(Uniform() * (full.size() - 11)));
        break;
      }
      default:  // empty line
        break;
    }
  }

  std::mt19937_64 rng_;
  std::int64_t time_ = 1743847200;  // 2025-04-05T10:00:00Z
  double gpu_mb_ = 18432;
};

}  // namespace lle
