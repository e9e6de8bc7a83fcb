#pragma once

#include <cctype>
#include <string_view>

namespace lle {

/// ASCII case-insensitive equality, for protocol tokens (HTTP header values).
inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

/// JSON whitespace (RFC 8259): space, tab, line feed, carriage return. Most
/// bytes are above ' ', and one compare rejects them.
inline bool IsJsonSpace(char c) {
  return static_cast<unsigned char>(c) <= ' ' && (c == ' ' || c == '\t' || c == '\n' || c == '\r');
}

}  // namespace lle
