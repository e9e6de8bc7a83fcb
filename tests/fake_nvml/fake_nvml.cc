// A stand-in for NVIDIA's libnvidia-ml.so.1 with two fixed GPUs, built by the
// tests and loaded by the real daemon through --gpu.nvml-library, i.e. through
// the same dlopen path as the real library. Environment variables steer it:
//   LLE_FAKE_NVML_INIT_FAIL=1       nvmlInit_v2 fails as without a driver
//   LLE_FAKE_NVML_FAIL_FILE=PATH    while PATH exists, memory reads fail (GPU lost)
//   LLE_FAKE_NVML_CALLS_FILE=PATH   one byte appended per nvmlDeviceGetCount_v2

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "nvml_abi.h"

namespace {

struct FakeGpu {
  const char* uuid;
  unsigned long long total;
  unsigned long long used;
  unsigned int utilization;  // percent; 101: not supported
};

// An 80 GiB card, busy, and a 24 GiB one whose utilisation NVML cannot report.
const FakeGpu kGpus[] = {
    {"GPU-6f1c2a3b-0d4e-5f60-7182-93a4b5c6d7e8", 85899345920ULL, 19327352832ULL, 87},
    {"GPU-0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9", 25769803776ULL, 1073741824ULL, 101},
};
constexpr unsigned int kCount = sizeof kGpus / sizeof kGpus[0];

bool initialised = false;

const FakeGpu* Gpu(nvmlDevice_t device) {
  const auto* gpu = reinterpret_cast<const FakeGpu*>(device);
  return gpu >= kGpus && gpu < kGpus + kCount ? gpu : nullptr;
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) nvmlReturn_t nvmlInit_v2() {
  const char* fail = std::getenv("LLE_FAKE_NVML_INIT_FAIL");
  if (fail != nullptr && std::strcmp(fail, "1") == 0) return 9;  // NVML_ERROR_DRIVER_NOT_LOADED
  initialised = true;
  return kNvmlSuccess;
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlShutdown() {
  if (!initialised) return 1;  // NVML_ERROR_UNINITIALIZED
  initialised = false;
  return kNvmlSuccess;
}

__attribute__((visibility("default"))) const char* nvmlErrorString(nvmlReturn_t code) {
  switch (code) {
    case 9:
      return "Driver Not Loaded";
    case kNvmlErrorGpuIsLost:
      return "GPU is lost";
    default:
      return "Unknown Error";
  }
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int* count) {
  if (!initialised) return 1;
  if (const char* calls = std::getenv("LLE_FAKE_NVML_CALLS_FILE")) {
    const int fd = open(calls, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
      if (write(fd, "c", 1) != 1) {
      }
      close(fd);
    }
  }
  *count = kCount;
  return kNvmlSuccess;
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(
    unsigned int index, nvmlDevice_t* device) {
  if (!initialised) return 1;
  if (index >= kCount) return 2;  // NVML_ERROR_INVALID_ARGUMENT
  *device = reinterpret_cast<nvmlDevice_t>(const_cast<FakeGpu*>(&kGpus[index]));
  return kNvmlSuccess;
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device,
                                                                      char* uuid,
                                                                      unsigned int length) {
  const FakeGpu* gpu = Gpu(device);
  if (!initialised || gpu == nullptr) return 2;
  if (std::strlen(gpu->uuid) + 1 > length) return 7;  // NVML_ERROR_INSUFFICIENT_SIZE
  std::strcpy(uuid, gpu->uuid);
  return kNvmlSuccess;
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device,
                                                                            nvmlMemory_t* memory) {
  const FakeGpu* gpu = Gpu(device);
  if (!initialised || gpu == nullptr) return 2;
  if (const char* fail = std::getenv("LLE_FAKE_NVML_FAIL_FILE")) {
    if (access(fail, F_OK) == 0) return kNvmlErrorGpuIsLost;
  }
  memory->total = gpu->total;
  memory->used = gpu->used;
  memory->free = gpu->total - gpu->used;
  return kNvmlSuccess;
}

__attribute__((visibility("default"))) nvmlReturn_t nvmlDeviceGetUtilizationRates(
    nvmlDevice_t device, nvmlUtilization_t* rates) {
  const FakeGpu* gpu = Gpu(device);
  if (!initialised || gpu == nullptr) return 2;
  if (gpu->utilization > 100) return kNvmlErrorNotSupported;
  rates->gpu = gpu->utilization;
  rates->memory = gpu->utilization / 2;
  return kNvmlSuccess;
}

}  // extern "C"
