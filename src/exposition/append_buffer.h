#pragma once

// Private to src/exposition: the buffer the exposition writers (text_format.cc,
// protobuf_format.cc) append to.

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>

namespace lle {

/// Appends to a std::string through a pointer: the string is sized ahead
/// and cut to what was written when the AppendBuffer goes, so that writing a
/// few bytes is a store and a bounds check (std::string's append is a call
/// and a check each time, and a scrape appends a million times). Borrows
/// the string; not thread-safe.
class AppendBuffer {
 public:
  AppendBuffer(std::string& s, std::size_t estimate) : s_(s), used_(s.size()) {
    s_.resize(used_ + estimate);
  }
  ~AppendBuffer() { s_.resize(used_); }
  AppendBuffer(const AppendBuffer&) = delete;
  AppendBuffer& operator=(const AppendBuffer&) = delete;

  /// Room for `n` more bytes at what it returns (the end of what was
  /// written); Advance past those written.
  char* Need(std::size_t n) {
    if (s_.size() - used_ < n) s_.resize(std::max(2 * s_.size(), used_ + n));
    return s_.data() + used_;
  }
  void Advance(const char* end) { used_ = static_cast<std::size_t>(end - s_.data()); }
  void Put(std::string_view text) {
    if (text.empty()) return;  // its data() may be null: memcpy's is not
    std::memcpy(Need(text.size()), text.data(), text.size());
    used_ += text.size();
  }
  void Put(char c) {
    *Need(1) = c;
    ++used_;
  }
  /// What was written so far: [data(), data() + size()).
  char* data() { return s_.data(); }
  std::size_t size() const { return used_; }

 private:
  std::string& s_;
  std::size_t used_;
};

}  // namespace lle
