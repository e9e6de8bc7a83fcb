#pragma once

#include <cstddef>
#include <string>

namespace lle {

/// Reads a file descriptor (stdin, a pipe, a file) and can be interrupted from
/// another thread while it waits for input. Does not own `fd`; owns the eventfd
/// that Stop() signals. Read() on one thread; Stop() from any.
class FdSource {
 public:
  enum class Status { kData, kEof, kStopped, kError };

  explicit FdSource(int fd);
  ~FdSource();
  FdSource(const FdSource&) = delete;
  FdSource& operator=(const FdSource&) = delete;

  /// Waits for input and reads at most `capacity` bytes into `buffer`; on
  /// kData, `*n` > 0 bytes were read; on kError, `*error` says why.
  Status Read(char* buffer, std::size_t capacity, std::size_t* n, std::string* error);
  /// Makes the current and every later Read() return kStopped.
  void Stop();

 private:
  int fd_;
  int wake_fd_;  // eventfd that Stop() signals
};

}  // namespace lle
