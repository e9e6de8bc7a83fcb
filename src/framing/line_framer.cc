#include "llm_log_exporter/framing/line_framer.h"

#include <algorithm>
#include <cstring>

#include "llm_log_exporter/core/line.h"

namespace lle {

LineFramer::LineFramer(std::size_t max_line_bytes) : max_line_bytes_(max_line_bytes) {}

void LineFramer::Emit(std::string_view line, LineSink& sink) {
  const bool cr = !line.empty() && line.back() == '\r';
  if (cr) line.remove_suffix(1);
  if (line.size() > max_line_bytes_) {
    sink.OnTooLong();
    return;
  }
  sink.OnLine(line, cr);
}

void LineFramer::Carry(std::string_view part, LineSink& sink) {
  // One byte of slack: a trailing '\r' is stripped only once the '\n' arrives.
  if (carry_.size() + part.size() > max_line_bytes_ + 1) {
    carry_.clear();
    discarding_ = true;
    sink.OnTooLong();
    return;
  }
  const std::size_t need = carry_.size() + part.size() + kLinePadding;
  if (carry_.capacity() < need) carry_.reserve(std::max(need, 2 * carry_.capacity()));
  carry_.append(part);
}

void LineFramer::Feed(std::string_view data, LineSink& sink) {
  const char* p = data.data();
  const char* const end = p + data.size();
  while (p < end) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', end - p));
    if (nl == nullptr) {
      if (!discarding_) Carry(std::string_view(p, end - p), sink);
      return;
    }
    const std::string_view part(p, nl - p);
    p = nl + 1;
    if (discarding_) {
      discarding_ = false;
    } else if (carry_.empty()) {
      Emit(part, sink);  // the chunk's own padding (or next line) follows it
    } else {
      Carry(part, sink);
      if (!discarding_) Emit(carry_, sink);
      discarding_ = false;
      carry_.clear();
    }
  }
}

void LineFramer::Finish(LineSink& sink) {
  if (!discarding_ && !carry_.empty()) Emit(carry_, sink);
  discarding_ = false;
  carry_.clear();
}

}  // namespace lle
