#include "llm_log_exporter/app/input.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "llm_log_exporter/app/self_metrics.h"

namespace lle {

Input::Input(Exporter& exporter, std::size_t source, std::string name,
             std::unique_ptr<ByteSource> bytes)
    : exporter_(exporter),
      source_(source),
      name_(std::move(name)),
      bytes_(std::move(bytes)),
      reader_shard_(exporter.self_store().AddShard()) {
  bytes_->OnProgress([this](ByteSource::Progress progress) { OnProgress(progress); });
}

Input::~Input() {
  Stop();
  Join();
}

void Input::Start() {
  thread_ = std::thread([this] {
    std::string error;
    const ByteSource::Status end = ReadAndRecord(&error);
    if (end == ByteSource::Status::kError) {
      spdlog::error("{}: {}; no more input from it, still serving metrics", name_, error);
    } else if (end == ByteSource::Status::kEof) {
      spdlog::info("{}: end of input; still serving metrics until SIGTERM or SIGINT", name_);
    }
  });
}

ByteSource::Status Input::RunHere(std::string* error) { return ReadAndRecord(error); }

ByteSource::Status Input::ReadAndRecord(std::string* error) {
  const ByteSource::Status end = Read(*bytes_, error);
  if (end == ByteSource::Status::kError) {
    state_.store(InputState::kFailed);
  } else if (end != ByteSource::Status::kStopped) {
    state_.store(InputState::kEnded);
  }
  WakeFlushes();
  return end;
}

void Input::LowerThreadPriority() {
  constexpr int kIngestNice = 10;
  setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), kIngestNice);
}

void Input::Stop() {
  stopped_.store(true);
  bytes_->Stop();
  WakeFlushes();
}

void Input::WakeFlushes() {
  // Under the mutex: a Flush() between its look and its wait would miss it.
  std::lock_guard<std::mutex> lock(applied_mutex_);
  flushed_.notify_all();
}

bool Input::Flush(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(applied_mutex_);
  // Working through a backlog: what was written is being read anyway.
  if (!reader_waiting_ && !bytes_->at_tail()) return true;
  const std::uint64_t asked = ++flush_asked_;
  if (reader_waiting_ && !bytes_->HasUnread()) {
    // Nothing unread: only the lines handed on are still to be applied.
    flush_caught_up_ = asked;
    SettleFlushes();
  } else {
    // Wanted: a read that begins after this ask and takes all there is.
    // Resting, or about to (or woken for input that came): the nudge makes
    // that rest end at once.
    lock.unlock();
    bytes_->Nudge();
    lock.lock();
  }
  return flushed_.wait_until(lock, deadline, [&] {
    return flush_done_ >= asked || state() != InputState::kReading || stopped();
  });
}

void Input::OnProgress(ByteSource::Progress progress) {
  std::lock_guard<std::mutex> lock(applied_mutex_);
  switch (progress) {
    case ByteSource::Progress::kReading:
      flush_read_began_ = flush_asked_;
      return;
    case ByteSource::Progress::kResumed:
      reader_waiting_ = false;
      return;
    case ByteSource::Progress::kWaiting:
      reader_waiting_ = true;
      break;
    case ByteSource::Progress::kCaughtUp:
      break;
  }
  // What was written before the read began is read, and its whole lines are
  // handed on (the chunk reader sends them before it reads again).
  flush_caught_up_ = std::max(flush_caught_up_, flush_read_began_);
  SettleFlushes();
}

void Input::SettleFlushes() {
  if (pending_.empty() && flush_done_ < flush_caught_up_) {
    flush_done_ = flush_caught_up_;
    flushed_.notify_all();
  }
}

void Input::Join() {
  if (thread_.joinable()) thread_.join();
}

void Input::Submitted(std::uint64_t seq, std::size_t bytes) {
  std::lock_guard<std::mutex> lock(applied_mutex_);
  pending_.push_back({seq, bytes, false});
}

void Input::Applied(std::uint64_t seq) {
  std::lock_guard<std::mutex> lock(applied_mutex_);
  // Few batches are in flight (at most the chunk pool): a scan is enough.
  for (Pending& pending : pending_) {
    if (pending.seq == seq) {
      pending.applied = true;
      break;
    }
  }
  while (!pending_.empty() && pending_.front().applied) {
    OnApplied({pending_.front().seq, pending_.front().bytes});
    pending_.pop_front();
  }
  SettleFlushes();
}

void Input::OnBytes(std::size_t bytes) {
  reader_shard_->Apply(exporter_.self().Bytes(source_, bytes));
}

void Input::OnDropped(std::uint64_t lines) {
  if (lines > 0) reader_shard_->Apply(exporter_.self().Line(source_, LineResult::kDropped, lines));
}

void Input::OnTooLong() {
  reader_shard_->Apply(exporter_.self().Line(source_, LineResult::kTooLong));
}

}  // namespace lle
