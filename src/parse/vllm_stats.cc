#include "llm_log_exporter/parse/vllm_stats.h"

#include <charconv>
#include <cmath>

#include "text_chars.h"

namespace lle {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && (IsSpace(s.back()) || s.back() == '.')) s.remove_suffix(1);
  return s;
}

}  // namespace

bool ParseVllmStats(std::string_view line, VllmStats* out) {
  constexpr std::string_view kMarker = "Avg prompt throughput: ";
  const std::size_t start = line.find(kMarker);
  if (start == std::string_view::npos) return false;
  *out = VllmStats{};
  // v1 engines: "Engine 000: Avg prompt throughput: ...".
  const std::string_view before = line.substr(0, start);
  if (EndsWith(before, ": ")) {
    std::size_t d = before.size() - 2;
    const std::size_t digits_end = d;
    while (d > 0 && IsDigit(before[d - 1])) --d;
    if (d < digits_end && digits_end - d <= 6 && EndsWith(before.substr(0, d), "Engine ")) {
      int engine = 0;
      std::from_chars(before.data() + d, before.data() + digits_end, engine);
      out->engine = engine;
    }
  }
  enum Unit { kTokensPerSecond, kRequests, kPercent };
  struct Field {
    std::string_view key;
    Unit unit;
    std::optional<double> VllmStats::*member;
  };
  static const Field kFields[] = {
      {"Avg prompt throughput", kTokensPerSecond, &VllmStats::prompt_throughput},
      {"Avg generation throughput", kTokensPerSecond, &VllmStats::generation_throughput},
      {"Running", kRequests, &VllmStats::running},
      {"Pending", kRequests, &VllmStats::waiting},
      {"Waiting", kRequests, &VllmStats::waiting},
      {"Swapped", kRequests, &VllmStats::swapped},
      {"GPU KV cache usage", kPercent, &VllmStats::gpu_kv_cache_usage_ratio},
      {"CPU KV cache usage", kPercent, &VllmStats::cpu_kv_cache_usage_ratio},
      {"Prefix cache hit rate", kPercent, &VllmStats::prefix_cache_hit_ratio},
  };
  // "Key: number unit" items separated by ", ".
  std::string_view rest = line.substr(start);
  while (!rest.empty()) {
    const std::size_t comma = rest.find(", ");
    const std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 2);
    const std::size_t colon = item.find(": ");
    if (colon == std::string_view::npos) continue;
    const std::string_view key = item.substr(0, colon);
    const std::string_view text = item.substr(colon + 2);
    double value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || !std::isfinite(value) || value < 0) continue;
    const std::string_view unit = Trim(text.substr(static_cast<std::size_t>(end - text.data())));
    for (const Field& f : kFields) {
      if (key != f.key) continue;
      const bool unit_ok = (f.unit == kTokensPerSecond && unit == "tokens/s") ||
                           (f.unit == kRequests && unit == "reqs") ||
                           (f.unit == kPercent && unit == "%");
      if (unit_ok) out->*f.member = f.unit == kPercent ? value / 100 : value;
      break;
    }
  }
  return out->prompt_throughput.has_value();
}

}  // namespace lle
