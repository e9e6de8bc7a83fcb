#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace lle {

// Python tracebacks followed through a stream of lines. No allocation and no regex.

/// Follows Python tracebacks through a stream of lines and yields each block's
/// exception type once. A block starts with a line ending in `Traceback (most
/// recent call last):`; what precedes that text on the line (empty for raw
/// stderr; vLLM's `ERROR 04-05 10:23:45 [core.py:400] `, which its formatter
/// repeats on every line of a record) is the block's prefix, and every later
/// line of the block must start with it (a blank one may lack the prefix's
/// trailing spaces). A block whose first line has a prefix and whose second
/// line is a bare frame (SGLang: `[ts TP7] Scheduler hit an exception:
/// Traceback ...`) has an empty prefix from then on.
///
/// Indented lines (frames, code, carets) continue a block; `Name: message`
/// or a bare `Name` is its exception line; a chain header (`During handling of
/// the above exception, ...` or `The above exception was the direct cause
/// ...`) followed by another traceback continues the same block, whose type is
/// then the last exception's. After the exception line, blank lines and a
/// chain header continue the block, and so do further lines of the message
/// (pydantic's ValidationError, CUDA hints):
///  - in a record: vLLM ends every line of a multi-line record but the last
///    with '\r' (`cr`). A block whose first line has a prefix and ends in '\r'
///    is followed to the record's last line, which finishes it at once;
///  - without CRs (pastes, other loggers): the lines that start with the
///    block's prefix, when it is not empty, up to a new `Traceback` line.
/// Any other line ends the block (cut off before its exception line:
/// "truncated"), and the line is left to the caller.
/// Exception groups (`  + Exception Group Traceback`) are not followed.
/// Fixed-size state, no allocation; one per input stream, not thread-safe.
class TracebackTracker {
 public:
  struct Result {
    /// A block finished: count it once, under `type`.
    bool finished = false;
    /// A dotted Python name (`torch.OutOfMemoryError`), "other" when the
    /// final line names none (or a longer one than kMaxTypeBytes), or
    /// "truncated". Valid until the next call.
    std::string_view type;
    /// The line is part of a block (its first line, a frame, the exception,
    /// a chain header): not a log event of its own. False: process it as usual.
    bool in_block = false;
    /// The line is the first of a block (then also in_block).
    bool started = false;
  };

  static constexpr std::string_view kTruncated = "truncated";
  static constexpr std::string_view kOther = "other";
  static constexpr std::size_t kMaxTypeBytes = 128;
  static constexpr std::size_t kMaxPrefixBytes = 256;

  /// One line, without its line end (and without deployment wrappers: see
  /// Unwrap); `cr`: it ended in "\r\n", so in vLLM's layout the record goes on
  /// (LineSink::OnLine). A block ending with its exception line is reported
  /// with the next line (which may still chain another traceback) or by
  /// Flush/Finish; one in a record with the record's last line.
  Result Feed(std::string_view line, bool cr = false);
  /// The input is idle: a block whose exception line has been seen finishes
  /// now (a chained traceback would follow at once). One still in its frames,
  /// or in a record whose last line has not come, stays open.
  Result Flush();
  /// End of input: any open block finishes ("truncated" if its exception line
  /// never came).
  Result Finish();
  /// A block is open.
  bool in_block() const { return state_ != State::kIdle; }

 private:
  enum class State : std::uint8_t { kIdle, kFrames, kException, kChained };
  bool TryStart(std::string_view line, bool cr);
  Result Done(std::string_view type);
  // The line belongs to the block; in a record, its last line finishes it.
  Result Continue(bool cr);
  void SetType(std::string_view head);
  std::string_view Type() const;

  State state_ = State::kIdle;
  std::size_t prefix_size_ = 0;
  std::size_t type_size_ = 0;
  bool type_other_ = false;
  bool record_ = false;     // the block is a record whose lines but the last end in CR
  bool first_line_ = false;  // the next line is the block's second
  char prefix_[kMaxPrefixBytes];
  char type_[kMaxTypeBytes];
};

/// Where to end a chunk of whole lines (each ending in '\n') so that the
/// TracebackTracker that works it sees every block whole: the start of a block
/// still open at the end that began in the last kTracebackWindow bytes, else
/// lines.size(). Follows the lines as Pipeline::OnLine does (unwrapped, with
/// their CRs).
inline constexpr std::size_t kTracebackWindow = 32 * 1024;
std::size_t TracebackSafeEnd(std::string_view lines);

}  // namespace lle
