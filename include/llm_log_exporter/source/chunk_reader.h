#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "llm_log_exporter/core/line.h"
#include "llm_log_exporter/source/byte_source.h"
#include "llm_log_exporter/source/chunk_queue.h"
#include "llm_log_exporter/source/read_pacer.h"

namespace lle {

/// What a ChunkReader reports as it goes; called on the reader's thread.
class ReaderCounters {
 public:
  virtual ~ReaderCounters() = default;
  virtual void OnBytes(std::size_t bytes) = 0;
  /// Lines lost because every chunk was busy (drop mode only).
  virtual void OnDropped(std::uint64_t lines) = 0;
  /// A line longer than the limit was skipped without being buffered whole.
  virtual void OnTooLong() = 0;
  /// `chunk` was numbered (Chunk::seq) and is about to be queued or worked
  /// here: called in read order, before any worker sees it.
  virtual void OnChunk(const Chunk& /*chunk*/) {}
};

/// Works a slow input's chunks on the reader's own thread, so that no worker
/// needs waking for them (ChunkReaderOptions::local). Called on the reader's thread.
class LocalWorker {
 public:
  virtual ~LocalWorker() = default;
  /// Claims a pipeline no worker is using; false if none is free now.
  virtual bool TryClaim() = 0;
  /// Works `chunk` with the pipeline claimed, then gives the pipeline back.
  virtual void Work(const Chunk& chunk) = 0;
};

struct ChunkReaderOptions {
  std::size_t read_bytes = 256 * 1024;  // large reads: few syscalls per line
  std::size_t max_line_bytes = 1024 * 1024;
  /// true (a live pipe): when every chunk is busy for `drop_after`, keep
  /// draining the input and count the lines that find no room as dropped, so
  /// a stalled pipeline never blocks the writer for longer than that.
  /// false (--once, a file): wait for a worker instead; nothing is dropped.
  bool drop_when_full = true;
  /// How long a full buffer may hold up reading before lines are dropped.
  /// A writer that is merely faster than us is paced (the pipe fills up for a
  /// moment) rather than losing data; a stalled pipeline drops.
  std::chrono::milliseconds drop_after{100};
  /// Where a chunk of whole lines should end, e.g. to keep a multi-line block
  /// on one worker: the size to send (the rest opens the next chunk, if more
  /// input comes within `hold_for`). Null: send every whole line.
  std::function<std::size_t(std::string_view lines)> chunk_end;
  std::chrono::milliseconds hold_for{10};
  /// Where chunk sequence numbers come from; shared by all sources so that
  /// "latest" means the same across them. Null: numbered from 1.
  std::atomic<std::uint64_t>* sequence = nullptr;
  /// How a live input's reads are paced (ReadPacer): a line may wait this
  /// long for more to come with it (unless the source is nudged). Zero:
  /// never rest, never work here (--once).
  std::chrono::milliseconds rest_window{25};
  /// What may pile up during a rest (ReadPacer): 0 for one read's worth
  /// (read_bytes); for a pipe, whose writer must never wait for room, a
  /// share of its capacity; SIZE_MAX for a file, which holds any amount.
  std::size_t rest_bytes = 0;
  /// An input that brings at most this much per rest_window is slow: `local`
  /// works its chunks when it can. Null: every chunk goes to the queue.
  std::size_t slow_bytes = 64 * 1024;
  LocalWorker* local = nullptr;
  /// The pacer's clock: steady_clock's unless a test gives its own.
  std::function<ReadPacer::Clock::time_point()> now;
};

/// Reads a stream into chunks of whole lines and queues them for workers, in
/// order (Chunk::seq). A line split across reads is carried to the next chunk;
/// a line longer than the limit is skipped up to its '\n'. The last line
/// without '\n' is completed with one at end of stream. Not thread-safe: one
/// thread runs it; the queue carries chunks to the others.
class ChunkReader {
 public:
  ChunkReader(ByteSource& source, ChunkQueue& queue, ChunkReaderOptions options,
              ReaderCounters& counters);

  /// Reads until end of stream, Stop() of the source, or an error (`*error`).
  /// Does not close the queue.
  ByteSource::Status Run(std::string* error);

 private:
  enum class Skip { kNone, kTooLong, kDropped };  // what the bytes up to the next '\n' are

  Chunk* NextChunk();
  std::size_t Reserve(Chunk* chunk);  // room to read into, at least 1 byte
  // Bytes a chunk can take before its padding.
  static std::size_t Room(const Chunk& chunk) {
    return chunk.bytes.size() - std::min(chunk.bytes.size(), chunk.size + kLinePadding);
  }
  // Below this much room a chunk is full: it grows (for a long line) or is sent.
  std::size_t ReadFloor() const { return std::min<std::size_t>(options_.read_bytes, 4096); }
  void Stamp(Chunk* chunk);
  void Submit(Chunk* chunk);
  // Works cur's lines before `keep_from` here; the bytes from there to
  // `kept_end` open the chunk again.
  void WorkHere(Chunk* cur, std::size_t keep_from, std::size_t kept_end);
  void DropRead(const char* data, std::size_t n);

  ByteSource& source_;
  ChunkQueue& queue_;
  ChunkReaderOptions options_;
  ReaderCounters& counters_;
  Skip skip_ = Skip::kNone;
  bool dropping_ = false;  // the last attempt found no free chunk: do not wait again
  std::uint64_t seq_ = 0;
  std::vector<char> scratch_;  // where input goes while no chunk is free
  ReadPacer pacer_;
  ReadPacer::Pace pace_;  // after the last read
  bool drained_ = false;  // the last read did not fill its room
  // Where the line still coming starts in `open_chunk_`, which then held
  // `open_size_` bytes: a long line's later reads need not look for it again
  // (that made a 10 MiB line cost its size times its reads).
  const Chunk* open_chunk_ = nullptr;
  std::size_t open_size_ = 0;
  std::size_t open_start_ = 0;
};

}  // namespace lle
