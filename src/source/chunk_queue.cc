#include "llm_log_exporter/source/chunk_queue.h"

#include <algorithm>

namespace lle {

ChunkQueue::ChunkQueue(std::size_t num_chunks) : refill_(std::max<std::size_t>(1, num_chunks / 4)) {
  for (std::size_t i = 0; i < num_chunks; ++i) {
    chunks_.push_back(std::make_unique<Chunk>());
    free_.push_back(chunks_.back().get());
  }
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
