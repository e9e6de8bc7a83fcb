#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace lle {

// Recognisers for the text lines an inference server prints besides its JSON
// request log: log levels, Python tracebacks, vLLM's periodic stats line, and
// lines that look like they carry secrets. No allocation and no regex: each is
// a few memchr/memcmp passes over the line.

/// The closed set of levels counted by qwen_log_events_total{level}.
enum class LogLevel : std::uint8_t { kNone, kDebug, kInfo, kWarning, kError, kCritical };
inline constexpr std::size_t kNumLogLevels = 6;  // kNone included

/// "debug", "info", "warning", "error", "critical"; "" for kNone.
std::string_view LogLevelName(LogLevel level);

/// The level of a text log line: the upper-case level word (DEBUG, TRACE,
/// INFO, WARNING, WARN, ERROR, CRITICAL, FATAL) first on the line, followed by
/// a space, tab, ':', ']', a colour code or the end, after optional ANSI
/// colour codes, an optional `(Name pid=N...) ` process prefix (vLLM workers,
/// Ray) and an optional leading timestamp `YYYY-MM-DD[T ]hh:mm:ss[.frac][zone]` (with one
/// `name - ` token after it, as in `%(asctime)s - %(name)s - %(levelname)s`).
/// Covers vLLM (`WARNING 04-05 10:23:45 [file.py:12] ...`, older
/// `file.py:12] `), uvicorn (`INFO:     ...`), Python's basicConfig
/// (`ERROR:root:...`) and Rust tracing (TGI: `2024-...Z  WARN target: ...`).
/// kNone for anything else (JSON, tracebacks, free text).
LogLevel ClassifyLevel(std::string_view line);

/// The level named by a JSON event's `level`, `levelname` or `severity`
/// string, ASCII case-insensitive: debug/trace → debug; info/information/
/// notice → info; warning/warn → warning; error/err → error;
/// critical/crit/fatal/alert/emergency/emerg/panic → critical; else kNone.
LogLevel LevelFromName(std::string_view name);

/// What a vLLM periodic stats line says; a field is set only if the line
/// carries it, with the expected unit, as a finite number >= 0.
struct VllmStats {
  std::optional<int> engine;                       // "Engine 000: " (v1 engines, data parallel)
  std::optional<double> prompt_throughput;         // tokens/s, "Avg prompt throughput"
  std::optional<double> generation_throughput;     // tokens/s, "Avg generation throughput"
  std::optional<double> running;                   // requests, "Running"
  std::optional<double> waiting;                   // requests, "Pending" (v0) or "Waiting" (v1)
  std::optional<double> swapped;                   // requests, "Swapped" (v0 only)
  std::optional<double> gpu_kv_cache_usage_ratio;  // 0-1, "GPU KV cache usage" / 100
  std::optional<double> cpu_kv_cache_usage_ratio;  // 0-1, "CPU KV cache usage" / 100 (v0)
  std::optional<double> prefix_cache_hit_ratio;    // 0-1, "Prefix cache hit rate" / 100 (v1)
};

/// True, with `*out` reset and filled, if `line` holds vLLM's periodic stats
/// message (`Avg prompt throughput: X tokens/s, Avg generation throughput: Y
/// tokens/s, Running: N reqs, ...`) wherever it starts (after any log header),
/// from v0 (`..., Swapped: S reqs, Pending: M reqs, GPU KV cache usage: P%,
/// CPU KV cache usage: Q%.`) to v1 (`Engine 000: ..., Waiting: M reqs, GPU KV
/// cache usage: P%, Prefix cache hit rate: R%`). Unknown fields are skipped.
bool ParseVllmStats(std::string_view line, VllmStats* out);

/// Follows Python tracebacks through a stream of lines and yields each block's
/// exception type once. A block starts with a line ending in `Traceback (most
/// recent call last):`; what precedes that text on the line (empty for raw
/// stderr; vLLM's `ERROR 04-05 10:23:45 [core.py:400] `, which its formatter
/// repeats on every line of a record) is the block's prefix, and every later
/// line of the block must start with it. Indented lines (frames, code, carets)
/// continue a block; `Name: message` or a bare `Name` ends it; a chain header
/// (`During handling of the above exception, ...` or `The above exception was
/// the direct cause ...`) followed by another traceback continues the same
/// block, whose type is then the last exception's. Any other line cuts the
/// block off: its type is "truncated", and the line is left to the caller.
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
  };

  static constexpr std::string_view kTruncated = "truncated";
  static constexpr std::string_view kOther = "other";
  static constexpr std::size_t kMaxTypeBytes = 128;
  static constexpr std::size_t kMaxPrefixBytes = 256;

  /// One line, without its line end. A block ending with its exception line is
  /// reported with the next line (which may still chain another traceback) or
  /// by Flush/Finish.
  Result Feed(std::string_view line);
  /// The input is idle: a block whose exception line has been seen finishes
  /// now (a chained traceback would follow at once). One still in its frames
  /// stays open.
  Result Flush();
  /// End of input: any open block finishes ("truncated" if its exception line
  /// never came).
  Result Finish();
  /// A block is open.
  bool in_block() const { return state_ != State::kIdle; }

 private:
  enum class State : std::uint8_t { kIdle, kFrames, kException, kChained };
  bool TryStart(std::string_view line);
  Result Done(std::string_view type);
  void SetType(std::string_view head);

  State state_ = State::kIdle;
  std::size_t prefix_size_ = 0;
  std::size_t type_size_ = 0;
  bool type_other_ = false;
  char prefix_[kMaxPrefixBytes];
  char type_[kMaxTypeBytes];
};

/// Where to end a chunk of whole lines (each ending in '\n') so that the
/// TracebackTracker that works it sees every block whole: the start of a block
/// still open at the end that began in the last kTracebackWindow bytes, else
/// lines.size().
inline constexpr std::size_t kTracebackWindow = 32 * 1024;
std::size_t TracebackSafeEnd(std::string_view lines);

/// Kinds of sensitive data a line may carry, as bits of SensitiveKinds.
using SensitiveKinds = std::uint8_t;
inline constexpr SensitiveKinds kSensitiveApiKey = 1 << 0;       // sk-..., sk-proj-...
inline constexpr SensitiveKinds kSensitiveBearerToken = 1 << 1;  // Bearer <token>
inline constexpr SensitiveKinds kSensitiveEmail = 1 << 2;        // local@domain.tld
inline constexpr SensitiveKinds kSensitivePrivateKey = 1 << 3;   // -----BEGIN ... PRIVATE KEY-----
inline constexpr std::size_t kNumSensitiveKinds = 4;

/// "api_key", "bearer_token", "email", "private_key" for bit `index` (0-3).
std::string_view SensitiveKindName(std::size_t index);

/// The kinds of sensitive data `line` looks like it carries:
///  - api_key: `sk-` not preceded by [A-Za-z0-9_-], then >= 20 of [A-Za-z0-9_-]
///  - bearer_token: `Bearer ` or `bearer ` (not inside a word), then >= 16
///    RFC 6750 token characters [A-Za-z0-9._~+/=-]
///  - email: [A-Za-z0-9._%+-]+ @ domain labels with at least one dot and a
///    final label of >= 2 letters (`user@` or `torch@2.1` are not)
///  - private_key: `-----BEGIN <label> PRIVATE KEY-----` (also `... BLOCK-----`)
/// Never copies or keeps the match. Each kind is looked for only behind a
/// memchr hit on '-', '@', 'B' or 'b', so a clean line costs little.
SensitiveKinds ScanSensitive(std::string_view line);

}  // namespace lle
