#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string_view>

namespace lle {

/// Paces the reads of a live input so that one written a line per write(2)
/// costs few wake-ups. After each read it says whether the input is slow
/// (its lines can then be worked where they are read: no worker to wake)
/// and how long to rest before the next read (the writes meanwhile pile up,
/// and one wake-up reads them all). Pure logic: the caller gives the time,
/// so tests need no sleeps. Not thread-safe: one reader owns it.
///
/// At the rate seen since the previous read:
/// - slow: at most `slow_bytes` per `window` (a faster input's reads are
///   large, and workers share them as ever);
/// - rest for `window`, or for less if `rest_bytes` (what may pile up
///   meanwhile: the writer of a pipe never waits for room) would pile up
///   sooner, but for no less than a quarter window (a faster input is read
///   as it comes); and only if at least 1.5 lines come in the rest, so that
///   it saves wake-ups (a trickle, a line per rest or fewer, is read as it
///   comes: a rest would mostly wake to nothing, then again for the line).
/// So a line waits at most `window` for company.
class ReadPacer {
 public:
  using Clock = std::chrono::steady_clock;
  struct Pace {
    bool slow = false;
    Clock::duration rest{0};  // before the next read
  };

  /// `window` zero: never slow, never a rest (--once: read as fast as can be).
  ReadPacer(Clock::duration window, std::size_t slow_bytes, std::size_t rest_bytes)
      : window_(window), slow_bytes_(slow_bytes), rest_bytes_(rest_bytes) {}

  /// After a read of `bytes` (not empty) at `now`; `filled`: it filled the
  /// room it was given, so more may be waiting (neither slow nor a rest).
  Pace OnRead(Clock::time_point now, std::string_view bytes, bool filled);

 private:
  const Clock::duration window_;
  const std::size_t slow_bytes_;
  const std::size_t rest_bytes_;
  std::optional<Clock::time_point> last_;  // of the previous read
};

}  // namespace lle
