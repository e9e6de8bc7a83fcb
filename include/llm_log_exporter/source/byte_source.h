#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace lle {

/// A stream of bytes a ChunkReader reads: stdin, a followed file. Read() on
/// one thread; Stop() from any thread.
class ByteSource {
 public:
  enum class Status { kData, kEof, kStopped, kError };

  virtual ~ByteSource() = default;
  /// Waits for input and reads at most `capacity` bytes into `buffer`; on
  /// kData, `*n` > 0 bytes were read; on kError, `*error` says why.
  virtual Status Read(char* buffer, std::size_t capacity, std::size_t* n, std::string* error) = 0;
  /// Makes the current and every later Read() return kStopped.
  virtual void Stop() = 0;
  /// Waits at most `timeout` for a Read() that would return at once (input,
  /// end of stream or Stop()). false when unsure: the input is then taken as paused.
  virtual bool WaitReady(std::chrono::milliseconds /*timeout*/) { return false; }
  /// Waits `duration` whatever input comes meanwhile (it piles up for the
  /// next Read to take in one go), or until Stop(). A source that cannot be
  /// woken from such a wait does not rest.
  virtual void Rest(std::chrono::nanoseconds /*duration*/) {}
};

}  // namespace lle
