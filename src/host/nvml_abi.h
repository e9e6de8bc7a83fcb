#pragma once

// The few NVML declarations the GPU collector uses, written to match the C ABI
// of NVIDIA's nvml.h (which is not packaged in Debian main, and which we do not
// want as a build dependency: the library is loaded at run time). Also compiled
// into the tests' fake libnvidia-ml.so.1.

extern "C" {

typedef int nvmlReturn_t;  // an enum in nvml.h: int-sized
inline constexpr nvmlReturn_t kNvmlSuccess = 0;
inline constexpr nvmlReturn_t kNvmlErrorNotSupported = 3;
inline constexpr nvmlReturn_t kNvmlErrorGpuIsLost = 15;

typedef struct nvmlDevice_st* nvmlDevice_t;

typedef struct nvmlMemory_st {
  unsigned long long total;  // bytes
  unsigned long long free;
  unsigned long long used;
} nvmlMemory_t;

typedef struct nvmlUtilization_st {
  unsigned int gpu;     // percent of the last sample period with a kernel running
  unsigned int memory;  // percent of it with device memory being read or written
} nvmlUtilization_t;

// NVML_DEVICE_UUID_V2_BUFFER_SIZE
inline constexpr unsigned int kNvmlUuidBufferSize = 96;

typedef nvmlReturn_t (*nvmlInit_v2_fn)();
typedef nvmlReturn_t (*nvmlShutdown_fn)();
typedef const char* (*nvmlErrorString_fn)(nvmlReturn_t);
typedef nvmlReturn_t (*nvmlDeviceGetCount_v2_fn)(unsigned int*);
typedef nvmlReturn_t (*nvmlDeviceGetHandleByIndex_v2_fn)(unsigned int, nvmlDevice_t*);
typedef nvmlReturn_t (*nvmlDeviceGetUUID_fn)(nvmlDevice_t, char*, unsigned int);
typedef nvmlReturn_t (*nvmlDeviceGetMemoryInfo_fn)(nvmlDevice_t, nvmlMemory_t*);
typedef nvmlReturn_t (*nvmlDeviceGetUtilizationRates_fn)(nvmlDevice_t, nvmlUtilization_t*);

}  // extern "C"
