#pragma once

#include <chrono>

namespace lle {

/// Now as Unix time in seconds: when a chunk was read or handed out, for the
/// read-time gauges.
inline double WallSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace lle
