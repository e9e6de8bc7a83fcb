#pragma once

#include <mutex>
#include <string>

namespace lle {

/// The one `Api` (a table of functions found with dlopen/dlsym, such as
/// OpenSslApi or RdKafkaApi) of the process: filled by `load` on the first
/// call, never again; null with `*error` (load's, the same every call) if it
/// failed. Thread-safe; the table lives until the process ends.
template <typename Api>
const Api* LoadOnce(bool (*load)(Api* api, std::string* error), std::string* error) {
  static Api api;
  static std::string load_error;
  static bool loaded = false;
  static std::once_flag once;
  std::call_once(once, [load] { loaded = load(&api, &load_error); });
  if (!loaded) *error = load_error;
  return loaded ? &api : nullptr;
}

}  // namespace lle
