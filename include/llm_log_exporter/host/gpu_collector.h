#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "llm_log_exporter/exposition/family.h"

namespace lle {

/// Per-GPU memory and utilisation from NVML, which it loads at run time with
/// dlopen (no build dependency; absent on hosts without an NVIDIA driver).
/// Owns the library handle (nvmlShutdown and dlclose on destruction). Reads at
/// scrape time, at most once per `cache` period. Thread-safe.
class GpuCollector {
 public:
  /// Loads `library` (a file name searched as dlopen does, or a path) and
  /// initialises NVML. nullptr with `*error` (one line) when that fails.
  static std::unique_ptr<GpuCollector> Open(
      const std::string& library, std::string* error,
      std::chrono::milliseconds cache = std::chrono::seconds(1));
  ~GpuCollector();
  GpuCollector(const GpuCollector&) = delete;
  GpuCollector& operator=(const GpuCollector&) = delete;

  /// GPUs NVML reported at Open.
  unsigned int device_count() const { return device_count_; }

  /// nvml_gpu_memory_used_bytes, nvml_gpu_memory_total_bytes and
  /// nvml_gpu_utilization_ratio {gpu,uuid}, plus
  /// llm_log_exporter_nvml_errors_total. After a failed NVML call the GPU
  /// families are left out (never stale or partial) and the counter grows.
  std::vector<Family> Collect() const;

  struct Api;  // the resolved NVML functions (gpu_collector.cc)

 private:
  GpuCollector(std::unique_ptr<Api> api, std::chrono::milliseconds cache);
  // One read of every GPU; false with `*error` naming the failed call.
  bool Read(std::vector<Family>* out, std::string* error) const;

  std::unique_ptr<Api> api_;
  std::chrono::milliseconds cache_;
  unsigned int device_count_ = 0;

  mutable std::mutex mutex_;  // guards the members below and serialises NVML calls
  mutable bool have_read_ = false;
  mutable bool last_read_ok_ = true;
  mutable std::chrono::steady_clock::time_point read_at_;
  mutable std::vector<Family> cached_;  // GPU families of the last read
  mutable std::uint64_t errors_ = 0;
};

}  // namespace lle
