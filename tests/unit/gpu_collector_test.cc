// GpuCollector against the tests' fake libnvidia-ml.so.1 (tests/fake_nvml),
// in-process: concurrent scrapes, the read cache, and loading failures.

#include "llm_log_exporter/host/gpu_collector.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace lle {
namespace {

constexpr char kFakeNvml[] = LLE_FAKE_NVML;

// The value of `name`'s series for GPU `gpu`, or -1.
double Value(const std::vector<Family>& families, const std::string& name, const std::string& gpu) {
  for (const auto& family : families) {
    if (family.name != name) continue;
    for (const auto& metric : family.series) {
      for (const auto& label : metric.labels) {
        if (label.name == "gpu" && label.value == gpu) return metric.value;
      }
      if (metric.labels.empty()) return metric.value;
    }
  }
  return -1;
}

TEST(GpuCollectorTest, ConcurrentScrapesSeeWholeReads) {
  std::string error;
  // No cache: every Collect reads NVML, from several threads at once.
  const std::unique_ptr<GpuCollector> gpu =
      GpuCollector::Open(kFakeNvml, &error, std::chrono::milliseconds(0));
  ASSERT_NE(gpu, nullptr) << error;
  EXPECT_EQ(gpu->device_count(), 2u);
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        const auto families = gpu->Collect();
        if (Value(families, "nvml_gpu_memory_used_bytes", "0") != 19327352832.0 ||
            Value(families, "nvml_gpu_memory_total_bytes", "1") != 25769803776.0 ||
            Value(families, "nvml_gpu_utilization_ratio", "0") != 0.87 ||
            Value(families, "nvml_gpu_utilization_ratio", "1") != -1 ||
            Value(families, "llm_log_exporter_nvml_errors_total", "") != 0) {
          ++wrong;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(GpuCollectorTest, LoadingFailuresSayWhy) {
  std::string error;
  EXPECT_EQ(GpuCollector::Open("/nonexistent/libnvidia-ml.so.1", &error), nullptr);
  EXPECT_NE(error.find("/nonexistent/libnvidia-ml.so.1"), std::string::npos) << error;
  EXPECT_EQ(GpuCollector::Open("libz.so.1", &error), nullptr);
  EXPECT_EQ(error, "libz.so.1: no nvmlInit_v2 in the library");
}

}  // namespace
}  // namespace lle
