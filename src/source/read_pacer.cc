#include "llm_log_exporter/source/read_pacer.h"

#include <algorithm>
#include <cstring>

namespace lle {

namespace {

// Whether `bytes` holds at least `n` newlines, counted until there are that
// many: a slow input's read is a few lines, and n is a few too.
bool HasLines(std::string_view bytes, double n) {
  const char* p = bytes.data();
  const char* const end = p + bytes.size();
  for (double seen = 0; seen < n; ++seen) {
    p = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
    if (p == nullptr) return false;
    ++p;
  }
  return true;
}

}  // namespace

ReadPacer::Pace ReadPacer::OnRead(Clock::time_point now, std::string_view bytes, bool filled) {
  Pace pace;
  if (window_ <= Clock::duration::zero()) return pace;
  const std::optional<Clock::time_point> last = last_;
  last_ = now;
  // More is waiting: read on at once (after a rest, a read capped at its
  // room would otherwise look like a rate a rest can absorb, again and again).
  if (filled) return pace;
  if (!last) {
    // The first read ends an idle time: slow if small, no rate seen yet.
    pace.slow = bytes.size() <= slow_bytes_;
    return pace;
  }
  // This read's bytes came since the previous one: per window, that is
  // amount * window / gap, compared here as amount * window <= limit * gap
  // (no division by a gap of zero).
  const auto window = static_cast<double>(window_.count());
  const auto gap = static_cast<double>((now - *last).count());
  const double bytes_by_window = static_cast<double>(bytes.size()) * window;
  pace.slow = bytes_by_window <= static_cast<double>(slow_bytes_) * gap;
  // The rest: the window, or shorter if rest_bytes would pile up sooner at
  // this rate; none under a quarter window (a fast input is read as it comes).
  double rest = window;
  if (bytes_by_window > static_cast<double>(rest_bytes_) * gap) {
    rest = static_cast<double>(rest_bytes_) * gap / static_cast<double>(bytes.size());
  }
  if (rest * 4 < window) return pace;
  if (HasLines(bytes, 1.5 * gap / rest)) {  // lines * rest >= 1.5 * gap
    pace.rest = std::min(window_, std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double, Clock::period>(rest)));
  }
  return pace;
}

}  // namespace lle
