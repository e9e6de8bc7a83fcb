#pragma once

#include <cctype>
#include <string>
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

/// A control byte: below 0x20 (NUL, ESC, ...) or DEL.
inline bool IsControlByte(char c) {
  return static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) == 0x7f;
}

/// `text` with each control byte (IsControlByte) written as \xNN, so a
/// message quoting user input (a config key, a path) stays one printable line.
inline std::string EscapeControlBytes(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (IsControlByte(c)) {
      const auto b = static_cast<unsigned char>(c);
      out += "\\x";
      out += kHex[b >> 4];
      out += kHex[b & 15];
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace lle
