#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace lle {

/// Receives the lines a LineFramer cuts. Called on the framer's thread.
class LineSink {
 public:
  virtual ~LineSink() = default;
  /// `line` has no '\n' and no trailing '\r', and is followed by kLinePadding
  /// readable bytes; it is valid only during the call. `cr`: the line ended in
  /// "\r\n" (the '\r' stripped); vLLM ends every line of a multi-line record
  /// but the last so, which tells that the record continues.
  virtual void OnLine(std::string_view line, bool cr) = 0;
  /// A line longer than the limit was dropped (once per such line).
  virtual void OnTooLong() = 0;
};

/// Cuts a byte stream, fed in chunks of any size, into lines. Owns the
/// carry-over of a partial line (at most max_line_bytes); over-long lines are
/// skipped up to their '\n' without being buffered. One per stream; not thread-safe.
class LineFramer {
 public:
  explicit LineFramer(std::size_t max_line_bytes);

  /// `data` must be followed by kLinePadding readable bytes.
  void Feed(std::string_view data, LineSink& sink);
  /// End of stream: emits a last line that had no '\n'.
  void Finish(LineSink& sink);

 private:
  void Emit(std::string_view line, LineSink& sink);
  void Carry(std::string_view part, LineSink& sink);

  std::size_t max_line_bytes_;
  std::string carry_;        // start of a line split across chunks; capacity keeps padding
  bool discarding_ = false;  // inside an over-long line: skip to the next '\n'
};

}  // namespace lle
