#pragma once

// Helpers shared by the libFuzzer targets of tests/fuzz. Header-only; every
// function is stateless and thread-safe.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "llm_log_exporter/core/line.h"

namespace lle::fuzz {

/// Stops the run with a message: libFuzzer then writes the input as crash-*.
[[noreturn]] inline void Fail(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "FUZZ CHECK FAILED: %s", what);
  if (!detail.empty()) {
    std::fprintf(stderr, " [");
    for (const char c : detail.substr(0, 512)) {
      const auto b = static_cast<unsigned char>(c);
      if (b >= 0x20 && b < 0x7f) {
        std::fputc(b, stderr);
      } else {
        std::fprintf(stderr, "\\x%02x", b);
      }
    }
    std::fprintf(stderr, "]");
  }
  std::fprintf(stderr, "\n");
  std::abort();
}

inline void Check(bool ok, const char* what, std::string_view detail = {}) {
  if (!ok) Fail(what, detail);
}

/// A copy of `text` followed by kLinePadding bytes of `fill`, in an
/// allocation of exactly that size, so ASan sees any read past the padding.
/// Owns its bytes.
class PaddedText {
 public:
  explicit PaddedText(std::string_view text, char fill = '\0')
      : bytes_(text.size() + kLinePadding, fill), size_(text.size()) {
    if (!text.empty()) std::memcpy(bytes_.data(), text.data(), text.size());
    bytes_.shrink_to_fit();
  }
  std::string_view view() const { return {bytes_.data(), size_}; }

 private:
  std::vector<char> bytes_;
  std::size_t size_;
};

/// The '\n'-separated pieces of `text` (a last piece without '\n' included).
inline std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    out.push_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

/// True if `text` has a byte below 0x20 other than '\n', or DEL.
inline bool HasControlByte(std::string_view text, std::size_t* at) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto b = static_cast<unsigned char>(text[i]);
    if ((b < 0x20 && b != '\n') || b == 0x7f) {
      *at = i;
      return true;
    }
  }
  return false;
}

}  // namespace lle::fuzz
