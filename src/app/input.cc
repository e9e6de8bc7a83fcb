#include "llm_log_exporter/app/input.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <utility>

#include "llm_log_exporter/app/self_metrics.h"

namespace lle {

Input::Input(Exporter& exporter, std::size_t source, std::string name,
             std::unique_ptr<ByteSource> bytes)
    : exporter_(exporter),
      source_(source),
      name_(std::move(name)),
      bytes_(std::move(bytes)),
      reader_shard_(exporter.self_store().AddShard()) {}

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
  return end;
}

void Input::LowerThreadPriority() {
  constexpr int kIngestNice = 10;
  setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), kIngestNice);
}

void Input::Stop() {
  stopped_.store(true);
  bytes_->Stop();
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
