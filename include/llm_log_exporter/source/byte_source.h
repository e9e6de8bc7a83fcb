#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <utility>

namespace lle {

/// A stream of bytes a ChunkReader reads: stdin, a followed file. Read(),
/// Rest(), ReportProgress() and set_at_tail() on one thread; Stop(), Nudge(),
/// HasUnread() and at_tail() from any thread.
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
  /// next Read to take in one go), or until Stop() or Nudge(). A source that
  /// cannot be woken from such a wait does not rest.
  void Rest(std::chrono::nanoseconds duration) {
    resting_.store(true);
    RestFor(duration);
    resting_.store(false);
  }
  /// Ends the Rest() under way, or else the next one, at once: someone wants
  /// the input that piled up (a scrape).
  virtual void Nudge() {}
  /// Whether input has come that Read() has not taken yet, as far as can be
  /// told without taking it (a readable pipe, a change to a followed file);
  /// false when unsure.
  virtual bool HasUnread() const { return false; }

  /// How reading goes, for someone who wants what was written so far applied
  /// (Input::Flush). Reported on the reading thread:
  enum class Progress {
    kReading,   // a Read() begins
    kCaughtUp,  // the last Read() took all there was; its whole lines are handed on
    kWaiting,   // Read() found nothing and waits for input (so, caught up too)
    kResumed,   // that wait is over
  };
  /// `hook` hears ReportProgress(). Set before the first Read().
  void OnProgress(std::function<void(Progress)> hook) { progress_ = std::move(hook); }
  /// Called by the reader (kReading, kCaughtUp) and by Read() (kWaiting,
  /// kResumed: sources that can tell).
  void ReportProgress(Progress progress) {
    if (progress_) progress_(progress);
  }
  /// Set by the reader after each Read(): whether it took all there was
  /// (then the reader rests or waits next), or filled its buffer (a backlog).
  void set_at_tail(bool at_tail) { at_tail_.store(at_tail, std::memory_order_relaxed); }
  /// Whether the reader is at the input's tail or resting there: what is
  /// written now is read at its next wake-up, which Nudge() brings forward.
  bool at_tail() const { return at_tail_.load(std::memory_order_relaxed) || resting_.load(); }

 protected:
  virtual void RestFor(std::chrono::nanoseconds /*duration*/) {}
  bool reports_progress() const { return static_cast<bool>(progress_); }

 private:
  std::atomic<bool> resting_{false};
  std::atomic<bool> at_tail_{false};
  std::function<void(Progress)> progress_;
};

}  // namespace lle
