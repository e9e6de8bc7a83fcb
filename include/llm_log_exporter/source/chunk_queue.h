#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

namespace lle {

/// A chunk's memory: a slice of its queue's arena, or heap memory once one
/// line outgrew the slice. Owns the heap memory only. One user at a time.
class ChunkBuffer {
 public:
  ChunkBuffer() = default;
  ChunkBuffer(char* slice, std::size_t slice_size)
      : slice_(slice), slice_size_(slice_size), data_(slice), size_(slice_size) {}

  char* data() { return data_; }
  const char* data() const { return data_; }
  /// The capacity in use.
  std::size_t size() const { return size_; }
  char& operator[](std::size_t i) { return data_[i]; }
  char operator[](std::size_t i) const { return data_[i]; }
  /// At least `size` bytes (at least twice the capacity, when it grows), the
  /// first size() kept; new bytes are unspecified.
  void resize(std::size_t size);
  /// Back to the slice (or nothing), giving heap memory back; content is lost.
  void Reset();

 private:
  char* slice_ = nullptr;
  std::size_t slice_size_ = 0;
  struct Free {
    void operator()(char* p) const { std::free(p); }
  };
  std::unique_ptr<char, Free> heap_;
  char* data_ = nullptr;
  std::size_t size_ = 0;
};

/// Whole lines (each ending in '\n') read from one source in one go, followed
/// by kLinePadding readable bytes. Filled by a reader, framed by a worker.
struct Chunk {
  ChunkBuffer bytes;  // data is [0, size)
  std::size_t size = 0;
  std::uint64_t seq = 0;    // read order: the later chunk's gauge values win
  double wall_seconds = 0;  // when it was read (Unix time)
};

/// A fixed pool of chunks passed from one reader to worker threads: the
/// bound on input memory. Owns the chunks and their arena. Thread-safe.
class ChunkQueue {
 public:
  /// `chunk_bytes` > 0: each chunk starts with that many bytes of one arena.
  /// 0: chunks start empty and take heap memory as they are resized.
  explicit ChunkQueue(std::size_t num_chunks, std::size_t chunk_bytes = 0);
  ~ChunkQueue();
  ChunkQueue(const ChunkQueue&) = delete;
  ChunkQueue& operator=(const ChunkQueue&) = delete;

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
  Chunk* TakeFree();       // a free chunk or nullptr; mutex_ held
  void* arena_ = nullptr;  // mmap()ed; see the constructor
  std::size_t arena_size_ = 0;
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
