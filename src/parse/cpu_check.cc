#include "llm_log_exporter/parse/cpu_check.h"

#include <sstream>

namespace lle {

bool CpuSupportsParser(std::string* missing) {
  std::istringstream features(LLE_SIMD_FEATURES);
  std::string feature;
  missing->clear();
  while (features >> feature) {
#if defined(__x86_64__)
    bool has = true;
    if (feature == "avx2") has = __builtin_cpu_supports("avx2");
    if (feature == "bmi") has = __builtin_cpu_supports("bmi");
    if (feature == "bmi2") has = __builtin_cpu_supports("bmi2");
    if (feature == "pclmul") has = __builtin_cpu_supports("pclmul");
    if (feature == "popcnt") has = __builtin_cpu_supports("popcnt");
    if (feature == "sse4.2") has = __builtin_cpu_supports("sse4.2");
    if (!has) *missing += (missing->empty() ? "" : " ") + feature;
#endif
  }
  return missing->empty();
}

}  // namespace lle
