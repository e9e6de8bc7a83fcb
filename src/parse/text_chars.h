#pragma once

#include <cstddef>
#include <string_view>

// Character classes shared by the text-line recognisers of the parse stage
// (private to src/parse/).
namespace lle {

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
inline bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
inline bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || IsUpper(c); }
inline bool IsAlnum(char c) { return IsAlpha(c) || IsDigit(c); }
inline bool IsSpace(char c) { return c == ' ' || c == '\t'; }

/// `n` ASCII digits at s[p].
inline bool DigitsAt(std::string_view s, std::size_t p, std::size_t n) {
  if (p + n > s.size()) return false;
  for (std::size_t i = p; i < p + n; ++i) {
    if (!IsDigit(s[i])) return false;
  }
  return true;
}

inline bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace lle
