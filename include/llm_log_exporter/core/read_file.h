#pragma once

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

namespace lle {

/// Reads the whole of `path` into `*text`; false with `*error` = the reason
/// (strerror) if it cannot be opened or read. For config files, not for logs.
inline bool ReadWholeFile(const std::string& path, std::string* text, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = std::strerror(errno);
    return false;
  }
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) {
    *error = std::strerror(errno);
    return false;
  }
  *text = std::move(out).str();
  return true;
}

}  // namespace lle
