#pragma once

#include <string>

namespace lle {

/// Whether this CPU has the instructions the JSON parser was compiled for
/// (CMake's LLE_SIMD); if not, `*missing` names them. Safe to call on any CPU.
bool CpuSupportsParser(std::string* missing);

}  // namespace lle
