#include "llm_log_exporter/app/stream_input.h"

#include <fcntl.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <thread>
#include <utility>

#include "llm_log_exporter/parse/traceback.h"

namespace lle {
namespace {

// How long the reader of a followed file lets a slow writer's lines pile up.
constexpr std::chrono::milliseconds kFileRestWindow(1000);

// A pipe's reader rests while at most a quarter of the pipe piles up; the
// rest of its room takes a burst of the writer meanwhile, faster than its
// rate so far by up to this much (a 64 KiB pipe took 2.6 MB/s during the
// 25 ms rests that were the rule before pipes grew), without its waiting.
// Even a larger burst holds the writer up no longer than a full buffer may
// (--input.drop-after-ms): no rest is longer.
constexpr double kPipeBurstBytesPerSecond = 3 * 1024 * 1024;
constexpr std::chrono::milliseconds kPipeRestMin(25);

// Reads of 1/16 of the buffer, at most 256 KiB: large enough for few
// syscalls, small enough that a slow moment does not drop much at once.
std::size_t ReadBytes(const Options& options) {
  return std::clamp<std::size_t>(options.input_buffer_bytes / 16, 4096, 256 * 1024);
}

}  // namespace

StreamInput::StreamInput(Exporter& exporter, std::size_t source, std::string name,
                         std::unique_ptr<ByteSource> bytes, const Options& options,
                         bool drop_when_full, std::size_t workers)
    : Input(exporter, source, std::move(name), std::move(bytes)),
      queue_(std::max<std::size_t>(2, options.input_buffer_bytes / ReadBytes(options)),
             ReadBytes(options)),
      busy_(workers) {
  reader_options_.read_bytes = ReadBytes(options);
  reader_options_.max_line_bytes = options.max_line_bytes;
  reader_options_.drop_when_full = drop_when_full;
  reader_options_.drop_after = std::chrono::milliseconds(options.input_drop_after_ms);
  reader_options_.sequence = &exporter.sequence();
  // Workers follow tracebacks chunk by chunk: a block must not straddle two.
  reader_options_.chunk_end = TracebackSafeEnd;
  // A live stream sends a held-back block when the input pauses (freshness);
  // --once waits for the rest instead, so that a writer's pauses never
  // split a block and the output depends on the input alone.
  // Nor does it rest: it reads as fast as it can.
  if (options.once) reader_options_.hold_for = std::chrono::hours(24);
  if (options.once) {
    reader_options_.rest_window = std::chrono::milliseconds(0);
  } else if (!drop_when_full) {
    // A followed file holds what its writer writes while we rest: rest
    // longer, for fewer wake-ups. A scrape does not wait for it (Flush), so
    // what /metrics shows is no staler; the same rate counts as slow.
    reader_options_.slow_bytes *= kFileRestWindow / reader_options_.rest_window;
    reader_options_.rest_window = kFileRestWindow;
    reader_options_.rest_bytes = SIZE_MAX;
  }
  reader_options_.local = this;
  for (std::size_t i = 0; i < workers; ++i) {
    pipelines_.push_back(std::make_unique<Pipeline>(exporter, source, options.max_line_bytes));
  }
}

StreamInput::~StreamInput() {
  Stop();
  Join();
}

void StreamInput::PaceForPipe(int fd) {
  if (reader_options_.rest_window == std::chrono::milliseconds(0)) return;  // --once
  // Best effort: not a pipe, or over the user's limit, changes nothing.
  fcntl(fd, F_SETPIPE_SZ, 1024 * 1024);
  const int capacity = fcntl(fd, F_GETPIPE_SZ);
  if (capacity <= 0) return;
  const auto rest_bytes = static_cast<std::size_t>(capacity) / 4;
  const auto window =
      std::clamp(std::chrono::milliseconds(static_cast<std::int64_t>(
                     static_cast<double>(static_cast<std::size_t>(capacity) - rest_bytes) * 1000 /
                     kPipeBurstBytesPerSecond)),
                 kPipeRestMin, std::max(kPipeRestMin, reader_options_.drop_after));
  // The same rate counts as slow.
  reader_options_.slow_bytes = reader_options_.slow_bytes *
                               static_cast<std::size_t>(window.count()) /
                               static_cast<std::size_t>(reader_options_.rest_window.count());
  reader_options_.rest_window = window;
  reader_options_.rest_bytes = rest_bytes;
}

ByteSource::Status StreamInput::Read(ByteSource& bytes, std::string* error) {
  LowerThreadPriority();
  if (stopped()) {
    for (auto& pipeline : pipelines_) pipeline->Finish();
    return ByteSource::Status::kStopped;
  }
  std::vector<std::thread> workers;
  for (std::size_t p = 0; p < pipelines_.size(); ++p) {
    workers.emplace_back([this, p] {
      LowerThreadPriority();
      while (Chunk* chunk = queue_.Pop()) {
        {
          std::lock_guard<std::mutex> lock(busy_[p]);
          pipelines_[p]->Feed(*chunk);
        }
        const std::uint64_t seq = chunk->seq;
        queue_.Release(chunk);
        Applied(seq);
      }
    });
  }
  ChunkReader reader(bytes, queue_, reader_options_, counters());
  const ByteSource::Status status = reader.Run(error);
  queue_.Close();
  for (std::thread& t : workers) t.join();
  for (auto& pipeline : pipelines_) pipeline->Finish();
  return status;
}

bool StreamInput::TryClaim() {
  for (claimed_ = 0; claimed_ < pipelines_.size(); ++claimed_) {
    if (busy_[claimed_].try_lock()) return true;
  }
  return false;
}

void StreamInput::Work(const Chunk& chunk) {
  pipelines_[claimed_]->Feed(chunk);
  busy_[claimed_].unlock();
  Applied(chunk.seq);
}

}  // namespace lle
