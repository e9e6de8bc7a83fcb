#include "llm_log_exporter/source/chunk_queue.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

namespace lle {

void ChunkBuffer::resize(std::size_t size) {
  if (size <= size_) return;
  if (data_ == slice_ && size <= slice_size_) {
    size_ = size;
    return;
  }
  // At least doubled, and moved by realloc (which remaps a large block's
  // pages instead of copying them): a line of many reads costs its length,
  // not its length once per read (a 10 MiB line cost 15 times ten of 1 MiB).
  const std::size_t capacity = std::max(size, 2 * size_);
  char* grown = nullptr;
  if (heap_ != nullptr) {
    grown = static_cast<char*>(std::realloc(heap_.get(), capacity));
    if (grown == nullptr) throw std::bad_alloc();
    heap_.release();
  } else {
    grown = static_cast<char*>(std::malloc(capacity));  // not zeroed: overwritten by reads
    if (grown == nullptr) throw std::bad_alloc();
    if (size_ > 0) std::memcpy(grown, data_, size_);
  }
  heap_.reset(grown);
  data_ = grown;
  size_ = capacity;
}

void ChunkBuffer::Reset() {
  heap_.reset();
  data_ = slice_;
  size_ = slice_size_;
}

namespace {
constexpr std::size_t kHugePage = 2 * 1024 * 1024;
}  // namespace

ChunkQueue::ChunkQueue(std::size_t num_chunks, std::size_t chunk_bytes)
    : refill_(std::max<std::size_t>(1, num_chunks / 4)) {
  char* arena = nullptr;
  if (chunk_bytes > 0) {
    // One mapping, aligned to and advised for transparent huge pages: the
    // first touch of a 4 KiB page costs a fault (about 13 us in a VM), which
    // for a 4 MiB pool is 1,024 faults on the path of the first lines read.
    // Huge pages make that two; without them (THP off) it is 4 KiB pages.
    const std::size_t used = num_chunks * chunk_bytes;
    arena_size_ = used + kHugePage;
    arena_ = mmap(nullptr, arena_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (arena_ == MAP_FAILED) {
      arena_ = nullptr;  // chunks take heap memory instead
    } else {
      const auto base = reinterpret_cast<std::uintptr_t>(arena_);
      arena = reinterpret_cast<char*>((base + kHugePage - 1) & ~(kHugePage - 1));
#ifdef MADV_HUGEPAGE
      madvise(arena, used, MADV_HUGEPAGE);
#endif
    }
  }
  for (std::size_t i = 0; i < num_chunks; ++i) {
    chunks_.push_back(std::make_unique<Chunk>());
    if (arena != nullptr) chunks_.back()->bytes = ChunkBuffer(arena + i * chunk_bytes, chunk_bytes);
    free_.push_back(chunks_.back().get());
  }
}

ChunkQueue::~ChunkQueue() {
  chunks_.clear();
  if (arena_ != nullptr) munmap(arena_, arena_size_);
}

Chunk* ChunkQueue::TakeFree() {
  if (free_.empty()) return nullptr;
  Chunk* c = free_.back();
  free_.pop_back();
  return c;
}

Chunk* ChunkQueue::TryAcquire() {
  std::lock_guard<std::mutex> lock(mutex_);
  return TakeFree();
}

Chunk* ChunkQueue::Acquire() {
  std::unique_lock<std::mutex> lock(mutex_);
  if (free_.empty()) {
    ++waiting_;
    freed_.wait(lock, [this] { return free_.size() >= refill_ || closed_; });
    --waiting_;
  }
  return TakeFree();
}

Chunk* ChunkQueue::AcquireFor(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (free_.empty()) {
    ++waiting_for_one_;
    freed_.wait_for(lock, timeout, [this] { return !free_.empty() || closed_; });
    --waiting_for_one_;
  }
  return TakeFree();
}

void ChunkQueue::Push(Chunk* chunk) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(chunk);
  }
  filled_.notify_one();
}

Chunk* ChunkQueue::Pop() {
  std::unique_lock<std::mutex> lock(mutex_);
  filled_.wait(lock, [this] { return !queue_.empty() || closed_; });
  if (queue_.empty()) return nullptr;
  Chunk* c = queue_.front();
  queue_.pop_front();
  return c;
}

void ChunkQueue::Release(Chunk* chunk) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    free_.push_back(chunk);
    wake = waiting_for_one_ > 0 || (waiting_ > 0 && free_.size() == refill_);
  }
  if (wake) freed_.notify_all();
}

void ChunkQueue::Close() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
  }
  filled_.notify_all();
  freed_.notify_all();
}

}  // namespace lle
