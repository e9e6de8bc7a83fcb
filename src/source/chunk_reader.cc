#include "llm_log_exporter/source/chunk_reader.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>

#include "llm_log_exporter/core/line.h"
#include "wall_seconds.h"

namespace lle {

ChunkReader::ChunkReader(ByteSource& source, ChunkQueue& queue, ChunkReaderOptions options,
                         ReaderCounters& counters)
    : source_(source),
      queue_(queue),
      options_(std::move(options)),
      counters_(counters),
      pacer_(options_.rest_window, options_.slow_bytes,
             options_.rest_bytes != 0 ? options_.rest_bytes : options_.read_bytes) {
  if (!options_.now) options_.now = [] { return ReadPacer::Clock::now(); };
}

Chunk* ChunkReader::NextChunk() {
  // While dropping, do not wait again on every read: that would pace the
  // writer to one read per drop_after while the pipeline is stalled.
  Chunk* chunk = !options_.drop_when_full ? queue_.Acquire()
                 : dropping_              ? queue_.TryAcquire()
                                          : queue_.AcquireFor(options_.drop_after);
  dropping_ = chunk == nullptr && options_.drop_when_full;
  if (chunk == nullptr) return nullptr;
  chunk->size = 0;
  // A chunk that once held a very long line gives the memory back.
  if (chunk->bytes.size() > 4 * (options_.read_bytes + kLinePadding)) chunk->bytes.Reset();
  return chunk;
}

std::size_t ChunkReader::Reserve(Chunk* chunk) {
  // A chunk holds read_bytes (the pool's bound on memory: its slice of the
  // arena) and only grows while one line is longer than what is left of it.
  if (Room(*chunk) < ReadFloor()) {
    chunk->bytes.resize(std::max(options_.read_bytes, chunk->size + options_.read_bytes) +
                        kLinePadding);
  }
  return std::min(Room(*chunk), options_.read_bytes);
}

void ChunkReader::Stamp(Chunk* chunk) {
  open_chunk_ = nullptr;  // handed on (or worked here): its bytes change
  chunk->seq = options_.sequence != nullptr ? options_.sequence->fetch_add(1) + 1 : ++seq_;
  chunk->wall_seconds = WallSeconds();
  counters_.OnChunk(*chunk);
}

void ChunkReader::Submit(Chunk* chunk) {
  Stamp(chunk);
  queue_.Push(chunk);
}

void ChunkReader::WorkHere(Chunk* cur, std::size_t keep_from, std::size_t kept_end) {
  cur->size = keep_from;
  Stamp(cur);
  options_.local->Work(*cur);
  std::memmove(cur->bytes.data(), cur->bytes.data() + keep_from, kept_end - keep_from);
  cur->size = kept_end - keep_from;
}

void ChunkReader::DropRead(const char* data, std::size_t n) {
  // Each '\n' ends a line that loses at least its part in this read.
  const auto lines = static_cast<std::uint64_t>(std::count(data, data + n, '\n'));
  if (skip_ == Skip::kTooLong && lines > 0) {
    counters_.OnDropped(lines - 1);  // the first one ends the too-long line, already counted
  } else {
    counters_.OnDropped(lines);
  }
  if (lines > 0) skip_ = data[n - 1] == '\n' ? Skip::kNone : Skip::kDropped;
  if (lines == 0 && skip_ == Skip::kNone) skip_ = Skip::kDropped;
}

ByteSource::Status ChunkReader::Run(std::string* error) {
  Chunk* cur = nullptr;  // being filled; [0, size) is the start of one line
  ByteSource::Status status;
  for (;;) {
    // The last read took all there was, and its whole lines are handed on.
    if (std::exchange(drained_, false)) source_.ReportProgress(ByteSource::Progress::kCaughtUp);
    // Lets a slow input's next writes pile up: one wake-up then reads them all.
    if (pace_.rest.count() > 0) source_.Rest(std::exchange(pace_.rest, {}));
    if (cur == nullptr) cur = NextChunk();
    if (cur == nullptr && !options_.drop_when_full) return ByteSource::Status::kStopped;
    std::size_t n = 0;
    if (cur == nullptr) {
      scratch_.resize(options_.read_bytes);
      status = source_.Read(scratch_.data(), scratch_.size(), &n, error);
      if (status != ByteSource::Status::kData) break;
      counters_.OnBytes(n);
      DropRead(scratch_.data(), n);
      continue;
    }
    const std::size_t room = Reserve(cur);
    char* const fresh = cur->bytes.data() + cur->size;
    source_.ReportProgress(ByteSource::Progress::kReading);
    status = source_.Read(fresh, room, &n, error);
    if (status != ByteSource::Status::kData) break;
    counters_.OnBytes(n);
    pace_ = pacer_.OnRead(options_.now(), {fresh, n}, n == room);
    drained_ = n < room;
    source_.set_at_tail(drained_);
    if (skip_ != Skip::kNone) {
      const char* nl = static_cast<const char*>(std::memchr(fresh, '\n', n));
      if (nl == nullptr) continue;  // still inside the skipped line
      if (skip_ == Skip::kDropped) counters_.OnDropped(1);
      skip_ = Skip::kNone;
      open_chunk_ = nullptr;  // the fresh bytes start a line
      const std::size_t skipped = static_cast<std::size_t>(nl + 1 - fresh);
      std::memmove(fresh, nl + 1, n - skipped);
      n -= skipped;
    }
    const std::size_t old_size = cur->size;
    cur->size += n;
    const char* data = cur->bytes.data();
    const char* last_nl = static_cast<const char*>(memrchr(data + old_size, '\n', n));
    // One byte of slack for a '\r' before the '\n'; the worker's framer judges exactly.
    const std::size_t limit = options_.max_line_bytes + 1;
    if (last_nl == nullptr) {
      // One line still coming; whole lines before it (kept back by the hook)
      // are not part of it, and are sent if it turns out too long.
      if (open_chunk_ != cur || open_size_ != old_size) {
        const char* held_end = static_cast<const char*>(memrchr(data, '\n', old_size));
        open_start_ = held_end != nullptr ? static_cast<std::size_t>(held_end + 1 - data) : 0;
      }
      const std::size_t line_start = open_start_;
      open_chunk_ = cur;
      open_size_ = cur->size;
      if (cur->size - line_start > limit) {
        counters_.OnTooLong();
        skip_ = Skip::kTooLong;
        cur->size = line_start;
        if (line_start > 0) {
          Submit(cur);
          cur = nullptr;
        }
      }
      continue;
    }
    std::size_t complete = static_cast<std::size_t>(last_nl + 1 - data);
    std::size_t tail = cur->size - complete;
    if (tail > limit) {
      counters_.OnTooLong();
      skip_ = Skip::kTooLong;
      tail = 0;
    }
    // The hook may keep whole lines back for what comes next: the chunk then
    // reads on while it has room, or else ends before them. An input that
    // pauses meanwhile gets them sent at once.
    std::size_t end = complete;
    if (options_.chunk_end && skip_ == Skip::kNone) end = options_.chunk_end({data, complete});
    if (end < complete && source_.WaitReady(options_.hold_for)) {
      drained_ = false;  // more came, and lines wait for it
      if (Room(*cur) >= ReadFloor()) continue;
    } else {
      end = complete;
    }
    const bool hold = end > 0 && tail + (complete - end) <= limit;
    if (pace_.slow && options_.local != nullptr && options_.local->TryClaim()) {
      WorkHere(cur, hold ? end : complete, complete + tail);
      continue;
    }
    Chunk* next = NextChunk();
    if (next != nullptr && hold) {
      tail += complete - end;
      complete = end;
    }
    if (next != nullptr) {
      if (next->bytes.size() < tail + kLinePadding) {
        next->bytes.resize(std::max(tail, options_.read_bytes) + kLinePadding);
      }
      std::memcpy(next->bytes.data(), data + complete, tail);
      next->size = tail;
    } else if (tail > 0 && skip_ == Skip::kNone) {
      skip_ = Skip::kDropped;  // no room for the rest of this line
    }
    cur->size = complete;
    Submit(cur);
    cur = next;
  }
  if (cur != nullptr) {
    if (status == ByteSource::Status::kEof && cur->size > 0) {
      if (cur->bytes[cur->size - 1] != '\n') {  // the last line had none
        Reserve(cur);
        cur->bytes[cur->size++] = '\n';
      }
      Submit(cur);
    } else {
      queue_.Release(cur);
    }
  }
  if (status == ByteSource::Status::kEof && skip_ == Skip::kDropped) counters_.OnDropped(1);
  return status;
}

}  // namespace lle
