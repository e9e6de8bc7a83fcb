#pragma once

#include <atomic>
#include <chrono>

namespace lle {

/// What a source's Stop() signals: an eventfd its waits poll, and a flag for
/// a look without a system call. Once signalled, for good. Also a nudge,
/// which ends one Sleep early (the one under way, or else the next). Owns
/// its eventfds. Thread-safe.
class StopSignal {
 public:
  StopSignal();
  ~StopSignal();
  StopSignal(const StopSignal&) = delete;
  StopSignal& operator=(const StopSignal&) = delete;

  void Signal();
  bool signalled() const { return signalled_.load(std::memory_order_acquire); }
  /// Readable once signalled (-1 if the eventfd could not be made: then only
  /// the flag says it).
  int fd() const { return fd_; }
  /// Ends the Sleep under way, or else the next one, at once.
  void Nudge();
  /// Waits `duration`, or less if signalled or nudged.
  void Sleep(std::chrono::nanoseconds duration) const;

 private:
  const int fd_;
  const int nudge_fd_;
  std::atomic<bool> signalled_{false};
};

}  // namespace lle
