#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

namespace lle {

/// Whole lines (each ending in '\n') read from one source in one go, followed
/// by kLinePadding readable bytes. Filled by a reader, framed by a worker.
struct Chunk {
  std::vector<char> bytes;  // size() is the capacity in use; data is [0, size)
  std::size_t size = 0;
  std::uint64_t seq = 0;    // read order: the later chunk's gauge values win
  double wall_seconds = 0;  // when it was read (Unix time)
};

/// A fixed pool of chunks passed from one reader to worker threads: the
/// bound on input memory. Owns the chunks. Thread-safe.
class ChunkQueue {
 public:
  explicit ChunkQueue(std::size_t num_chunks);

  /// A free chunk, or nullptr if all are queued or being worked on.
  Chunk* TryAcquire();
  /// A free chunk; if there is none, waits until a quarter of the pool is
  /// free (so that a reader faster than its workers wakes once per batch, not
  /// per chunk: each wake-up is a futex call and a cross-CPU interrupt).
  /// nullptr once closed.
  Chunk* Acquire();
  /// Waits at most `timeout` for one free chunk (a live input must not wait
  /// for a batch); nullptr if none came, or closed.
  Chunk* AcquireFor(std::chrono::milliseconds timeout);
  /// Hands a filled chunk to the workers.
  void Push(Chunk* chunk);
  /// The oldest filled chunk; waits for one; nullptr once closed and drained.
  Chunk* Pop();
  /// Returns a chunk to the pool once worked on.
  void Release(Chunk* chunk);
  /// No more pushes: Pop() drains what is queued then returns nullptr.
  void Close();

 private:
  Chunk* TakeFree();  // a free chunk or nullptr; mutex_ held
  std::mutex mutex_;
  std::condition_variable filled_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<Chunk>> chunks_;
  std::vector<Chunk*> free_;
  std::deque<Chunk*> queue_;
  const std::size_t refill_;         // free chunks that end an acquirer's wait
  std::size_t waiting_ = 0;          // Acquire() callers waiting for a batch
  std::size_t waiting_for_one_ = 0;  // AcquireFor() callers waiting
  bool closed_ = false;
};

}  // namespace lle
