#include "llm_log_exporter/host/gpu_collector.h"

#include <dlfcn.h>
#include <spdlog/spdlog.h>

#include <string_view>
#include <utility>

#include "nvml_abi.h"

namespace lle {

struct GpuCollector::Api {
  void* handle = nullptr;
  nvmlInit_v2_fn init = nullptr;
  nvmlShutdown_fn shutdown = nullptr;
  nvmlErrorString_fn error_string = nullptr;  // optional
  nvmlDeviceGetCount_v2_fn get_count = nullptr;
  nvmlDeviceGetHandleByIndex_v2_fn get_handle = nullptr;
  nvmlDeviceGetUUID_fn get_uuid = nullptr;
  nvmlDeviceGetMemoryInfo_fn get_memory = nullptr;
  nvmlDeviceGetUtilizationRates_fn get_utilization = nullptr;

  // "nvmlFoo failed: <NVML's text> (code N)".
  std::string Failure(const char* call, nvmlReturn_t code) const {
    std::string text = std::string(call) + " failed: ";
    const char* reason = error_string != nullptr ? error_string(code) : nullptr;
    text += reason != nullptr ? reason : "error";
    text += " (code " + std::to_string(code) + ")";
    return text;
  }
};

namespace {

template <typename Fn>
bool Resolve(void* handle, const char* name, Fn* out, std::string* error) {
  dlerror();
  *out = reinterpret_cast<Fn>(dlsym(handle, name));
  if (*out == nullptr) {
    *error = std::string("no ") + name + " in the library";
    return false;
  }
  return true;
}

Family GaugeFamily(const char* name, const char* help) {
  Family family;
  family.name = name;
  family.help = help;
  family.type = MetricType::kGauge;
  return family;
}

void AddGauge(Family* family, const std::string& gpu, const std::string& uuid, double value) {
  Series metric;
  metric.labels = {{"gpu", gpu}, {"uuid", uuid}};
  metric.value = value;
  family->series.push_back(std::move(metric));
}

}  // namespace

std::unique_ptr<GpuCollector> GpuCollector::Open(const std::string& library, std::string* error,
                                                 std::chrono::milliseconds cache) {
  auto api = std::make_unique<Api>();
  dlerror();
  api->handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (api->handle == nullptr) {
    const char* reason = dlerror();
    *error = reason != nullptr ? reason : library + ": cannot be loaded";
    return nullptr;
  }
  const bool resolved =
      Resolve(api->handle, "nvmlInit_v2", &api->init, error) &&
      Resolve(api->handle, "nvmlShutdown", &api->shutdown, error) &&
      Resolve(api->handle, "nvmlDeviceGetCount_v2", &api->get_count, error) &&
      Resolve(api->handle, "nvmlDeviceGetHandleByIndex_v2", &api->get_handle, error) &&
      Resolve(api->handle, "nvmlDeviceGetUUID", &api->get_uuid, error) &&
      Resolve(api->handle, "nvmlDeviceGetMemoryInfo", &api->get_memory, error) &&
      Resolve(api->handle, "nvmlDeviceGetUtilizationRates", &api->get_utilization, error);
  if (!resolved) {
    *error = library + ": " + *error;
    dlclose(api->handle);
    return nullptr;
  }
  api->error_string = reinterpret_cast<nvmlErrorString_fn>(dlsym(api->handle, "nvmlErrorString"));
  // Typically fails in a container without the driver's device nodes.
  const nvmlReturn_t init = api->init();
  if (init != kNvmlSuccess) {
    *error = library + ": " + api->Failure("nvmlInit_v2", init);
    dlclose(api->handle);
    return nullptr;
  }
  unsigned int count = 0;
  const nvmlReturn_t counted = api->get_count(&count);
  if (counted != kNvmlSuccess) {
    *error = library + ": " + api->Failure("nvmlDeviceGetCount_v2", counted);
    api->shutdown();
    dlclose(api->handle);
    return nullptr;
  }
  std::unique_ptr<GpuCollector> collector(new GpuCollector(std::move(api), cache));
  collector->device_count_ = count;
  return collector;
}

GpuCollector::GpuCollector(std::unique_ptr<Api> api, std::chrono::milliseconds cache)
    : api_(std::move(api)), cache_(cache) {}

GpuCollector::~GpuCollector() {
  api_->shutdown();
  dlclose(api_->handle);
}

bool GpuCollector::Read(std::vector<Family>* out, std::string* error) const {
  unsigned int count = 0;
  nvmlReturn_t rc = api_->get_count(&count);
  if (rc != kNvmlSuccess) {
    *error = api_->Failure("nvmlDeviceGetCount_v2", rc);
    return false;
  }
  // Names apart from the log-derived qwen_gpu_memory_used_bytes (what the
  // server reported per request) and from other GPU exporters' (DCGM_FI_*,
  // nvidia_smi_*, nvidia_gpu_*), so both can be scraped into one Prometheus.
  Family used = GaugeFamily("nvml_gpu_memory_used_bytes", "GPU memory in use (NVML), per GPU");
  Family total = GaugeFamily("nvml_gpu_memory_total_bytes", "GPU memory installed (NVML), per GPU");
  Family utilization = GaugeFamily(
      "nvml_gpu_utilization_ratio",
      "Fraction of NVML's last sample period (1/6 s to 1 s) in which a kernel ran, per GPU");
  for (unsigned int i = 0; i < count; ++i) {
    nvmlDevice_t device = nullptr;
    rc = api_->get_handle(i, &device);
    if (rc != kNvmlSuccess) {
      *error = api_->Failure("nvmlDeviceGetHandleByIndex_v2", rc) + " for GPU " + std::to_string(i);
      return false;
    }
    char uuid[kNvmlUuidBufferSize] = {};
    rc = api_->get_uuid(device, uuid, sizeof uuid);
    if (rc != kNvmlSuccess) {
      *error = api_->Failure("nvmlDeviceGetUUID", rc) + " for GPU " + std::to_string(i);
      return false;
    }
    uuid[sizeof uuid - 1] = '\0';
    nvmlMemory_t memory{};
    rc = api_->get_memory(device, &memory);
    if (rc != kNvmlSuccess) {
      *error = api_->Failure("nvmlDeviceGetMemoryInfo", rc) + " for GPU " + std::to_string(i);
      return false;
    }
    const std::string gpu = std::to_string(i);
    AddGauge(&used, gpu, uuid, static_cast<double>(memory.used));
    AddGauge(&total, gpu, uuid, static_cast<double>(memory.total));
    nvmlUtilization_t rates{};
    rc = api_->get_utilization(device, &rates);
    if (rc == kNvmlSuccess) {
      AddGauge(&utilization, gpu, uuid, rates.gpu / 100.0);
    } else if (rc != kNvmlErrorNotSupported) {  // some GPUs (and MIG) have no counter: no series
      *error = api_->Failure("nvmlDeviceGetUtilizationRates", rc) + " for GPU " + gpu;
      return false;
    }
  }
  // No family without a series (no GPUs, no utilisation counters): an empty
  // family would only print HELP and TYPE lines.
  for (Family* family : {&used, &total, &utilization}) {
    if (!family->series.empty()) out->push_back(std::move(*family));
  }
  return true;
}

std::vector<Family> GpuCollector::Collect() const {
  std::vector<Family> families;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    // Several scrapers (HA Prometheus pairs, a curl) within the period share
    // one read, so frequent scrapes do not keep the driver busy.
    if (!have_read_ || now - read_at_ >= cache_) {
      have_read_ = true;
      read_at_ = now;
      cached_.clear();
      std::string error;
      const bool ok = Read(&cached_, &error);
      if (!ok) {
        cached_.clear();
        ++errors_;
        // Logged when reads start failing and when they recover, not at every scrape.
        if (last_read_ok_) spdlog::warn("GPU metrics absent: {}", error);
      } else if (!last_read_ok_) {
        spdlog::info("GPU metrics back: NVML reads succeed again");
      }
      last_read_ok_ = ok;
    }
    families = cached_;
    Family errors;
    errors.name = "llm_log_exporter_nvml_errors_total";
    errors.help = "NVML reads that failed; the GPU metrics are absent from the scrapes they serve";
    errors.type = MetricType::kCounter;
    errors.series.emplace_back();
    errors.series.back().value = static_cast<double>(errors_);
    families.push_back(std::move(errors));
  }
  return families;
}

}  // namespace lle
