#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "llm_log_exporter/source/chunk_reader.h"

namespace lle {

/// A regular file given as input, read without copying: its whole lines from
/// the descriptor's offset on are mapped into memory and handed out as chunks
/// in file order. A stream reader then goes on from offset() with the rest (a
/// last line without '\n', lines appended since, a line over the limit).
/// Owns the mapping, not the descriptor; Next() is thread-safe.
///
/// Why: read(2) copies every byte once more (about 5 % of --once's time).
/// Pages behind the oldest chunk still in use are given back every 1 MiB, so
/// resident memory stays near that plus the chunks in use, not the file's size.
/// A file cut shorter while mapped (truncated under us) would raise SIGBUS on
/// its lost pages: they read as zeros instead, and truncated() says so.
class MappedFile {
 public:
  struct Chunk {
    std::string_view lines;   // whole lines, each ending in '\n'
    std::uint64_t seq = 0;    // from the options' sequence, in file order
    double wall_seconds = 0;  // when it was handed out (Unix time)
  };

  /// The mapped input of `fd` from its offset, or nullptr if `fd` is not a
  /// regular file, has no whole line past its offset, or cannot be mapped
  /// (or another MappedFile is open): the caller then reads it as a stream.
  /// Chunks are cut as a ChunkReader with `options` would cut them (read_bytes,
  /// max_line_bytes, chunk_end, sequence; the rest is for live streams), for
  /// `workers` distinct `worker` values given to Next().
  static std::unique_ptr<MappedFile> Open(int fd, ChunkReaderOptions options, std::size_t workers);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  /// The next chunk of whole lines in file order, followed by kLinePadding
  /// readable bytes; false once all are handed out. `worker` (< workers)
  /// calls Next again only once done with its last chunk: pages before every
  /// worker's chunk are given back.
  bool Next(std::size_t worker, Chunk* chunk);
  /// Once Next() returned false: where in the file a stream reader goes on.
  off_t offset() const { return offset_ + static_cast<off_t>(end_); }
  /// The file shrank while mapped: lines past its new end read as zeros,
  /// and no chunk after the one that met them is handed out.
  static bool truncated();

 private:
  MappedFile(char* base, std::size_t mapping_bytes, off_t offset, std::size_t skip,
             std::size_t size, ChunkReaderOptions options, std::size_t workers);
  void GiveBack();  // mutex_ held

  char* const base_;                 // page-aligned; the file's data starts at base_ + skip_
  const std::size_t mapping_bytes_;  // with room for the padding after the file's end
  const off_t offset_;               // the descriptor's offset when opened: data starts there
  const std::size_t skip_;           // bytes before the data, in its first page
  const ChunkReaderOptions options_;
  std::mutex mutex_;
  std::size_t end_;       // into the data: the end of the whole lines handed out
  std::size_t next_ = 0;  // into the data: where the next chunk starts
  std::uint64_t seq_ = 0;
  std::size_t given_back_ = 0;       // into the mapping: pages before it are dropped
  std::vector<std::size_t> in_use_;  // per worker: start of its chunk, or SIZE_MAX
};

}  // namespace lle
