#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace lle {

/// Reads a file descriptor (stdin, a pipe, a file) in large chunks until end of
/// stream or Stop(). Owns its read buffer, which keeps kLinePadding bytes after
/// each chunk. Run() on one thread; Stop() from any thread.
class FdSource {
 public:
  enum class End { kEof, kStopped, kError };

  explicit FdSource(int fd, std::size_t read_bytes = 256 * 1024);
  ~FdSource();
  FdSource(const FdSource&) = delete;
  FdSource& operator=(const FdSource&) = delete;

  /// Calls `on_chunk` with each read (valid during the call). On kError, `*error` says why.
  End Run(const std::function<void(std::string_view)>& on_chunk, std::string* error);
  /// Makes Run() return kStopped soon, even while it waits for input.
  void Stop();

 private:
  int fd_;
  int wake_fd_;  // eventfd that Stop() signals
  std::vector<char> buffer_;
  std::size_t read_bytes_;
};

}  // namespace lle
