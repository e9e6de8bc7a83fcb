#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "llm_log_exporter/app/exporter.h"
#include "llm_log_exporter/source/byte_source.h"
#include "llm_log_exporter/source/chunk_reader.h"
#include "llm_log_exporter/store/store.h"

namespace lle {

/// How an input's reading stands (the landing page shows it).
enum class InputState : int {
  kReading,  // reading, or stopped by Stop() (the daemon shutting down)
  kEnded,    // end of input: no more lines will come, metrics still served
  kFailed,   // a read error: no more lines will come
};

/// A batch of lines of one input that has been applied to the store: one
/// chunk, numbered in the exporter's sequence (Chunk::seq).
struct AppliedBatch {
  std::uint64_t seq = 0;
  std::size_t bytes = 0;  // the batch's whole lines
};

/// One input of log lines (stdin, a followed file; a queue tomorrow): what
/// every input shares, as spdlog's base_sink is for sinks. It owns the
/// ByteSource it reads, its reader thread (Start/Stop/Join), the end-of-input
/// state, the self-metrics of what its reader sees (bytes, lines dropped or
/// too long, under its `source` label), and the order in which its batches
/// are reported applied (OnApplied). A subclass fills one hook, Read(): read
/// the source until it ends, fails or is stopped, and apply every line read.
///
/// Thread-safety: name(), source(), state(), Stop() from any thread; Start()
/// or RunHere(), then Join(), from the thread that owns the input. The
/// Exporter must outlive it. A subclass's destructor calls Stop() and Join()
/// first: its Read() uses its members.
class Input : private ReaderCounters {
 public:
  /// `source`: the input's index in the exporter's sources (its `source`
  /// label); `name`: what the log and the landing page call it.
  Input(Exporter& exporter, std::size_t source, std::string name,
        std::unique_ptr<ByteSource> bytes);
  ~Input() override;
  Input(const Input&) = delete;
  Input& operator=(const Input&) = delete;

  const std::string& name() const { return name_; }
  std::size_t source() const { return source_; }
  InputState state() const { return state_.load(); }

  /// Starts the reader thread: Read() until the input ends (logged, state
  /// kEnded), fails (logged as an error, kFailed) or Stop() (state unchanged).
  /// Once only.
  void Start();
  /// Read() on the calling thread instead (--once): returns how it ended,
  /// with `*error` on ByteSource::Status::kError; sets state() the same way,
  /// logs nothing.
  ByteSource::Status RunHere(std::string* error);
  /// Makes Read() return soon, once the lines read so far are applied. Returns at once.
  void Stop();
  /// For a scrape: if the reader rests (a slow input's writes pile up
  /// meanwhile, see ReadPacer), ends the rest and waits until what piled up
  /// is read and applied, or `deadline`. An input being read needs no help
  /// and one with nothing to read has nothing to give: both return at once.
  /// Returns whether it caught up in time. Any thread.
  bool Flush(std::chrono::steady_clock::time_point deadline);
  /// Waits for the thread Start() started (none: returns at once).
  void Join();

  /// Called after a batch of this input's lines has been applied to the
  /// store, for an input that must acknowledge what it read (a queue: Redis
  /// XACK, a Kafka offset commit). The contract such an input relies on:
  /// - called once per batch, after every update of its lines is in the
  ///   store (the next scrape of /metrics shows them; a traceback still open
  ///   at the batch's end counts when it ends);
  /// - in read order (increasing `seq`), never for a batch before every
  ///   earlier batch of this input has been reported, however many workers
  ///   applied them and in whatever order they finished;
  /// - never twice at once for one input, on whichever thread applied the
  ///   batch that completed the order: it must not block for long, nor call
  ///   back into the input.
  /// Batches still being worked when Stop() comes are applied and reported
  /// before Read() returns. Lines dropped (a full buffer) or too long are in
  /// no batch. The default does nothing (stdin, files).
  virtual void OnApplied(const AppliedBatch& /*batch*/) {}

 protected:
  /// The hook: reads `bytes` until it ends (kEof), fails (kError, `*error`)
  /// or is stopped (kStopped), and returns once every line read has been
  /// applied. Counts what its reader sees through counters(); reports each
  /// batch with Submitted() when it is numbered (in read order, before it is
  /// worked) and Applied() once its updates are in the store.
  virtual ByteSource::Status Read(ByteSource& bytes, std::string* error) = 0;

  /// The self-metrics of the reader: bytes read, lines dropped or too long
  /// (ChunkReader's counters; each chunk it numbers is Submitted()).
  ReaderCounters& counters() { return *this; }
  /// Lowers the calling thread's priority (nice 10): ingest threads yield to
  /// the HTTP threads (a scrape is answered at once even while a backlog is
  /// parsed) and to the inference server itself. Readers and workers call it.
  static void LowerThreadPriority();
  bool stopped() const { return stopped_.load(); }
  Exporter& exporter() { return exporter_; }

  /// Batch `seq` of `bytes` was numbered: it comes after every batch
  /// submitted before. Thread-safe; call in read order.
  void Submitted(std::uint64_t seq, std::size_t bytes);
  /// Batch `seq` (submitted) is applied: reports it, and the batches after
  /// it that were waiting for it, to OnApplied. Thread-safe.
  void Applied(std::uint64_t seq);

 private:
  struct Pending {
    std::uint64_t seq;
    std::size_t bytes;
    bool applied;
  };

  void OnBytes(std::size_t bytes) override;
  void OnDropped(std::uint64_t lines) override;
  void OnTooLong() override;
  void OnChunk(const Chunk& chunk) override { Submitted(chunk.seq, chunk.size); }
  ByteSource::Status ReadAndRecord(std::string* error);

  Exporter& exporter_;
  const std::size_t source_;
  const std::string name_;
  std::unique_ptr<ByteSource> bytes_;
  Shard* reader_shard_;  // written by the reader's thread only
  std::atomic<InputState> state_{InputState::kReading};
  std::atomic<bool> stopped_{false};
  std::thread thread_;
  // The reader's progress (ByteSource::ReportProgress): every Flush() up to
  // `flush_caught_up_`'s was asked before a read that took all there was
  // began; those up to `flush_done_`'s have their lines applied too.
  void OnProgress(ByteSource::Progress progress);
  void SettleFlushes();  // under applied_mutex_
  void WakeFlushes();    // the input ended or stops: no Flush() waits any more

  std::mutex applied_mutex_;      // held while OnApplied runs
  std::deque<Pending> pending_;  // submitted, not yet reported; guarded by applied_mutex_
  // Flush() requests by number; guarded by applied_mutex_.
  std::uint64_t flush_asked_ = 0;
  std::uint64_t flush_caught_up_ = 0;
  std::uint64_t flush_done_ = 0;
  std::uint64_t flush_read_began_ = 0;  // flush_asked_ when the last read began
  bool reader_waiting_ = false;         // in Read(), nothing to read
  std::condition_variable flushed_;
};

}  // namespace lle
