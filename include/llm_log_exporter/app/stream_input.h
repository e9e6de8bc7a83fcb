#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "llm_log_exporter/app/exporter.h"
#include "llm_log_exporter/app/input.h"
#include "llm_log_exporter/app/options.h"
#include "llm_log_exporter/app/pipeline.h"
#include "llm_log_exporter/source/byte_source.h"
#include "llm_log_exporter/source/chunk_queue.h"
#include "llm_log_exporter/source/chunk_reader.h"

namespace lle {

/// An input read as a stream of bytes (stdin, a followed file): a reader
/// thread cuts it into chunks of whole lines, and worker threads (each with
/// its own Pipeline and shard) work them; a slow input's chunks the reader
/// works itself with a pipeline no worker is using (ChunkReaderOptions::local).
///
/// Owns its ByteSource (through Input), the bounded chunk pool, the pipelines
/// and, while Read() runs, the worker threads; not the descriptor given to
/// PaceForPipe. Thread-safety as Input's: Stop() from any thread, the rest from
/// the owner's. The Exporter must outlive it.
class StreamInput : public Input, private LocalWorker {
 public:
  /// `options`: the input buffer and its reads (--input.buffer-bytes), the
  /// line limit, how long a full buffer may hold up reading, and --once (no
  /// rest, no held-back block sent early). `drop_when_full`: a live pipe
  /// whose writer must never wait long (see ChunkReaderOptions); `workers`:
  /// the pipelines working its chunks (at least 1).
  StreamInput(Exporter& exporter, std::size_t source, std::string name,
              std::unique_ptr<ByteSource> bytes, const Options& options, bool drop_when_full,
              std::size_t workers);
  ~StreamInput() override;

  /// If `fd` (the input's descriptor) is a pipe, grows it to 1 MiB (as far as
  /// the user's limits allow) and rests between slow reads for as long as
  /// its room lets a writer's burst fit meanwhile, and no longer than a
  /// full buffer may hold reading up (--input.drop-after-ms): 100 ms for
  /// 1 MiB by default, 25 ms for a pipe of 64 KiB. Before Start(); nothing
  /// under --once.
  void PaceForPipe(int fd);

 protected:
  /// Reads until end of stream, Stop() or an error, and returns once every
  /// line read has been worked (a traceback still open at the end counts).
  ByteSource::Status Read(ByteSource& bytes, std::string* error) override;

 private:
  bool TryClaim() override;
  void Work(const Chunk& chunk) override;

  ChunkQueue queue_;
  ChunkReaderOptions reader_options_;
  std::vector<std::unique_ptr<Pipeline>> pipelines_;
  // busy_[i]: pipelines_[i] is working a chunk (its worker's or the reader's).
  std::vector<std::mutex> busy_;
  std::size_t claimed_ = 0;  // the pipeline TryClaim() took; the reader's thread only
};

}  // namespace lle
