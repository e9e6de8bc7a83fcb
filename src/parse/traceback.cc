#include "llm_log_exporter/parse/traceback.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "llm_log_exporter/parse/line_header.h"
#include "llm_log_exporter/parse/log_level.h"
#include "text_chars.h"

namespace lle {
namespace {

constexpr std::string_view kTracebackHeader = "Traceback (most recent call last):";
constexpr std::string_view kDuringHandling =
    "During handling of the above exception, another exception occurred:";
constexpr std::string_view kDirectCause =
    "The above exception was the direct cause of the following exception:";
constexpr std::string_view kFrameStart = "  File \"";

bool IsBlank(std::string_view s) {
  for (char c : s) {
    if (!IsSpace(c)) return false;
  }
  return true;
}

// `a.b_c.D`: ASCII identifiers joined by single dots.
bool IsDottedName(std::string_view s) {
  if (s.empty()) return false;
  bool at_start = true;
  for (char c : s) {
    if (c == '.') {
      if (at_start) return false;
      at_start = true;
    } else if (IsAlpha(c) || c == '_') {
      at_start = false;
    } else if (IsDigit(c)) {
      if (at_start) return false;
    } else {
      return false;
    }
  }
  return !at_start;
}

// The head of a final traceback line (`Name: message` or a bare `Name`):
// what precedes ": " (or a ':' at the end), or the whole line. Empty if the
// line cannot be one: it must start like a name and the head be one word.
std::string_view ExceptionHead(std::string_view rest) {
  if (rest.empty() || !(IsAlpha(rest[0]) || rest[0] == '_')) return {};
  std::size_t end = rest.size();
  const std::size_t colon = rest.find(':');
  if (colon != std::string_view::npos && (colon + 1 == rest.size() || rest[colon + 1] == ' ')) {
    end = colon;
  }
  std::string_view head = rest.substr(0, end);
  while (!head.empty() && IsSpace(head.back())) head.remove_suffix(1);
  if (head.size() > 256) return {};
  for (char c : head) {
    if (IsSpace(c)) return {};
  }
  return head;
}

}  // namespace

bool TracebackTracker::TryStart(std::string_view line, bool cr) {
  if (!EndsWith(line, kTracebackHeader)) return false;
  const std::string_view prefix = line.substr(0, line.size() - kTracebackHeader.size());
  // Exception groups print "  + Exception Group Traceback ...", then "  | "
  // lines: a different shape, not followed.
  if (prefix.size() > kMaxPrefixBytes || EndsWith(prefix, "Exception Group ")) return false;
  std::memcpy(prefix_, prefix.data(), prefix.size());
  prefix_size_ = prefix.size();
  state_ = State::kFrames;
  type_size_ = 0;
  type_other_ = false;
  // A record's lines that end in '\r' are followed as one record; not with an
  // empty prefix, where a CRLF file would make every line look like one.
  record_ = cr && prefix_size_ > 0;
  first_line_ = true;
  return true;
}

void TracebackTracker::SetType(std::string_view head) {
  type_other_ = !IsDottedName(head) || head.size() > kMaxTypeBytes;
  if (type_other_) return;
  std::memcpy(type_, head.data(), head.size());
  type_size_ = head.size();
}

std::string_view TracebackTracker::Type() const {
  return type_other_ ? kOther : std::string_view(type_, type_size_);
}

TracebackTracker::Result TracebackTracker::Done(std::string_view type) {
  state_ = State::kIdle;
  Result result;
  result.finished = true;
  result.type = type;
  return result;
}

TracebackTracker::Result TracebackTracker::Continue(bool cr) {
  if (record_ && !cr) {
    // The record's last line: nothing more can belong to the block.
    Result result = Done(state_ == State::kException ? Type() : kTruncated);
    result.in_block = true;
    return result;
  }
  Result result;
  result.in_block = true;
  return result;
}

TracebackTracker::Result TracebackTracker::Feed(std::string_view line, bool cr) {
  if (state_ == State::kIdle) {
    Result result;
    result.in_block = result.started = TryStart(line, cr);
    return result;
  }
  const std::string_view prefix(prefix_, prefix_size_);
  bool has_prefix = line.size() >= prefix_size_ && std::memcmp(line.data(), prefix_, prefix_size_) == 0;
  // A blank line of a record is its header, whose trailing space pastes lose.
  if (!has_prefix && line.size() < prefix_size_ && prefix.compare(0, line.size(), line) == 0 &&
      IsBlank(prefix.substr(line.size()))) {
    has_prefix = true;
  }
  std::string_view rest = has_prefix ? line.substr(std::min(prefix_size_, line.size())) : std::string_view();
  // SGLang: `[ts TP7] Scheduler hit an exception: Traceback ...`, then bare lines.
  if (first_line_ && !has_prefix && line.compare(0, kFrameStart.size(), kFrameStart) == 0) {
    prefix_size_ = 0;
    record_ = false;
    has_prefix = true;
    rest = line;
  }
  first_line_ = false;
  std::string_view done_type = kTruncated;
  if (has_prefix) {
    switch (state_) {
      case State::kFrames: {
        if (!rest.empty() && IsSpace(rest[0])) return Continue(cr);  // frame, code, caret
        if (rest == kTracebackHeader) break;  // a new block: this one never ended
        const std::string_view head = ExceptionHead(rest);
        // In a record, the first line after the frames is the exception,
        // whatever it looks like; elsewhere a log line's level word is no
        // exception name ("INFO:     ...").
        if (record_ || (!head.empty() && ClassifyLevel(rest) == LogLevel::kNone)) {
          SetType(head);
          state_ = State::kException;
          return Continue(cr);
        }
        break;
      }
      case State::kException:
        if (IsBlank(rest)) return Continue(cr);
        if (rest == kDuringHandling || rest == kDirectCause) {
          state_ = State::kChained;
          return Continue(cr);
        }
        // More lines of the message (pydantic's ValidationError, CUDA hints):
        // in a record, all of them; without CRs, those with the block's
        // prefix, up to a new traceback.
        if (record_ || (prefix_size_ > 0 && rest != kTracebackHeader)) return Continue(cr);
        done_type = Type();
        break;
      case State::kChained:
        if (IsBlank(rest)) return Continue(cr);
        if (rest == kTracebackHeader) {
          state_ = State::kFrames;
          return Continue(cr);
        }
        break;
      case State::kIdle:
        break;
    }
  } else if (state_ == State::kException) {
    done_type = Type();
  }
  // This line is not part of the block: it ends, and the line is looked at afresh.
  Result result = Done(done_type);
  result.in_block = result.started = TryStart(line, cr);
  return result;
}

TracebackTracker::Result TracebackTracker::Flush() {
  // A record whose lines end in CR is complete only with its last line.
  if (state_ != State::kException || record_) return {};
  return Done(Type());
}

TracebackTracker::Result TracebackTracker::Finish() {
  switch (state_) {
    case State::kIdle:
      return {};
    case State::kException:
      return Done(Type());
    case State::kFrames:
    case State::kChained:
      break;
  }
  return Done(kTruncated);
}

std::size_t TracebackSafeEnd(std::string_view lines) {
  const char* const begin = lines.data();
  const char* const end = begin + lines.size();
  const char* from = lines.size() > kTracebackWindow ? end - kTracebackWindow : begin;
  // The first header of the window, at the end of its line; none: nothing is open.
  const char* p = from;
  for (;;) {
    p = static_cast<const char*>(memmem(p, static_cast<std::size_t>(end - p),
                                        kTracebackHeader.data(), kTracebackHeader.size()));
    if (p == nullptr) return lines.size();
    p += kTracebackHeader.size();
    if (*p == '\n' || (*p == '\r' && p[1] == '\n')) break;
  }
  const char* const line_end = static_cast<const char*>(
      memrchr(from, '\n', static_cast<std::size_t>(p - kTracebackHeader.size() - from)));
  const char* line = line_end != nullptr ? line_end + 1 : from;
  // Follow the blocks from there as a worker would (Pipeline::OnLine: the
  // line unwrapped, its CR told); note where the open one began.
  TracebackTracker tracker;
  std::string scratch;
  const char* open = nullptr;
  while (line < end) {
    const char* nl =
        static_cast<const char*>(std::memchr(line, '\n', static_cast<std::size_t>(end - line)));
    std::string_view text(line, static_cast<std::size_t>(nl - line));
    const bool cr = !text.empty() && text.back() == '\r';
    if (cr) text.remove_suffix(1);
    if (tracker.Feed(Unwrap(text, scratch), cr).started) open = line;
    line = nl + 1;
  }
  // Even a block whose exception line came stays open: a chained one may follow.
  return tracker.in_block() ? static_cast<std::size_t>(open - begin) : lines.size();
}

}  // namespace lle
