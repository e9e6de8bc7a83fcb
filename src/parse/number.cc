#include "number.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string>

namespace lle {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// RFC 8259: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool IsJsonNumber(std::string_view s) {
  std::size_t i = 0;
  const std::size_t n = s.size();
  if (i < n && s[i] == '-') ++i;
  if (i >= n || !IsDigit(s[i])) return false;
  if (s[i] == '0') {
    ++i;
  } else {
    while (i < n && IsDigit(s[i])) ++i;
  }
  if (i < n && s[i] == '.') {
    ++i;
    if (i >= n || !IsDigit(s[i])) return false;
    while (i < n && IsDigit(s[i])) ++i;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    if (i >= n || !IsDigit(s[i])) return false;
    while (i < n && IsDigit(s[i])) ++i;
  }
  return i == n;
}

}  // namespace

FieldState ParseNumberToken(std::string_view token, double* value) {
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t' || token.back() == '\r' ||
                            token.back() == '\n')) {
    token.remove_suffix(1);
  }
  if (!IsJsonNumber(token)) return FieldState::kWrongType;
  // Rare path (the fast parser handles ordinary numbers): a copy is fine.
  const std::string copy(token);
  errno = 0;
  const double v = std::strtod(copy.c_str(), nullptr);
  if (!std::isfinite(v)) return FieldState::kOutOfRange;
  *value = v;  // underflow to 0 is what Python and JSON readers do too
  return FieldState::kNumber;
}

}  // namespace lle
