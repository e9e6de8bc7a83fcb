#pragma once

#include <string>

namespace lle {

/// The length of the valid UTF-8 sequence at `p` (a byte >= 0x80, before
/// `end`), or 0: no overlong forms, no surrogates, nothing past U+10FFFF
/// (RFC 3629, as simdjson checks it).
inline int Utf8Length(const char* p, const char* end) {
  const auto b = [p](int i) { return static_cast<unsigned char>(p[i]); };
  const auto cont = [&](int i) { return p + i < end && (b(i) & 0xC0) == 0x80; };
  const unsigned char lead = b(0);
  if (lead >= 0xC2 && lead <= 0xDF) return cont(1) ? 2 : 0;
  if (lead >= 0xE0 && lead <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if ((lead == 0xE0 && b(1) < 0xA0) || (lead == 0xED && b(1) > 0x9F)) return 0;
    return 3;
  }
  if (lead >= 0xF0 && lead <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if ((lead == 0xF0 && b(1) < 0x90) || (lead == 0xF4 && b(1) > 0x8F)) return 0;
    return 4;
  }
  return 0;
}

/// Appends byte `c` escaped for a JSON string: `\"`, `\\`, `\n`, `\r`, `\t`,
/// else `\u00XX` (for control bytes; callers choose which bytes to escape).
inline void AppendJsonEscape(unsigned char c, std::string* out) {
  switch (c) {
    case '"':
      *out += "\\\"";
      return;
    case '\\':
      *out += "\\\\";
      return;
    case '\n':
      *out += "\\n";
      return;
    case '\r':
      *out += "\\r";
      return;
    case '\t':
      *out += "\\t";
      return;
    default: {
      static constexpr char kHex[] = "0123456789abcdef";
      const char escaped[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
      out->append(escaped, sizeof escaped);
    }
  }
}

}  // namespace lle
