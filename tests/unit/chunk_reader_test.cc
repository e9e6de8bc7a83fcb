#include "llm_log_exporter/source/chunk_reader.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "llm_log_exporter/core/line.h"
#include "llm_log_exporter/source/fd_source.h"

namespace lle {
namespace {

struct Counts : ReaderCounters {
  std::size_t bytes = 0;
  std::uint64_t dropped = 0;
  int too_long = 0;
  void OnBytes(std::size_t n) override { bytes += n; }
  void OnDropped(std::uint64_t lines) override { dropped += lines; }
  void OnTooLong() override { ++too_long; }
};

// A pipe whose write end is fed `data` by a thread, as an inference server would.
class Feeder {
 public:
  explicit Feeder(std::string data) {
    int fds[2];
    EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0);
    read_fd_ = fds[0];
    writer_ = std::thread([fd = fds[1], data = std::move(data)] {
      std::size_t off = 0;
      while (off < data.size()) {
        const ssize_t n = write(fd, data.data() + off, data.size() - off);
        if (n <= 0) break;
        off += static_cast<std::size_t>(n);
      }
      close(fd);
    });
  }
  ~Feeder() {
    writer_.join();  // returns only if everything was written: the reader drained the pipe
    close(read_fd_);
  }
  int fd() const { return read_fd_; }

 private:
  int read_fd_ = -1;
  std::thread writer_;
};

std::string Lines(int n, const std::string& prefix = "line") {
  std::string out;
  for (int i = 0; i < n; ++i) out += prefix + std::to_string(i) + "\n";
  return out;
}

// What a reader run produced: the queued lines in read order, and its counts.
struct Result {
  std::string kept;
  Counts counts;
  ByteSource::Status status = ByteSource::Status::kError;
  std::size_t biggest_chunk = 0;  // largest buffer a chunk ever had
};

// Drains the queue until closed, checking each chunk holds whole lines.
void Drain(ChunkQueue& queue, Result& out) {
  std::vector<std::pair<std::uint64_t, std::string>> chunks;
  while (Chunk* c = queue.Pop()) {
    EXPECT_GT(c->size, 0u);
    EXPECT_EQ(c->bytes[c->size - 1], '\n');
    chunks.emplace_back(c->seq, std::string(c->bytes.data(), c->size));
    out.biggest_chunk = std::max(out.biggest_chunk, c->bytes.size());
    queue.Release(c);
  }
  std::sort(chunks.begin(), chunks.end());
  for (const auto& [seq, text] : chunks) out.kept += text;
}

// Writes `data` into a pipe from another thread and reads it with a
// ChunkReader over `num_chunks` chunks. With `stalled`, no worker takes
// chunks while the reader runs (a stalled pipeline); they are drained after.
Result ReadThrough(const std::string& data, const ChunkReaderOptions& options,
                   std::size_t num_chunks, bool stalled) {
  Result result;
  Feeder feeder(data);
  FdSource source(feeder.fd());
  // Chunks in an arena, as the daemon has them: lines that straddle reads
  // move them to heap memory and back.
  ChunkQueue queue(num_chunks, options.read_bytes + kLinePadding);
  std::thread worker;
  if (!stalled) worker = std::thread([&] { Drain(queue, result); });
  std::string error;
  result.status = ChunkReader(source, queue, options, result.counts).Run(&error);
  queue.Close();
  if (stalled) {
    Drain(queue, result);
  } else {
    worker.join();
  }
  return result;
}

long CountLines(const std::string& text) { return std::count(text.begin(), text.end(), '\n'); }

TEST(ChunkReaderTest, ChunksHoldWholeLinesInOrder) {
  const std::string data = Lines(500) + "last line without newline";
  ChunkReaderOptions options;
  options.read_bytes = 37;  // lines straddle every read
  options.drop_when_full = false;
  const Result r = ReadThrough(data, options, 4, /*stalled=*/false);
  EXPECT_EQ(r.status, ByteSource::Status::kEof);
  EXPECT_EQ(r.kept, data + "\n");
  EXPECT_EQ(r.counts.bytes, data.size());
  EXPECT_EQ(r.counts.dropped, 0u);
}

TEST(ChunkReaderTest, StalledPipelineNeverBlocksTheWriterAndCountsEveryDroppedLine) {
  // The reader must still drain the pipe to its end (the Feeder's writer
  // thread finishes) and account for every line: queued in the two chunks,
  // or dropped.
  constexpr int kLines = 20000;
  const std::string data = Lines(kLines, "a fairly long log line number ");
  ChunkReaderOptions options;
  options.read_bytes = 4096;
  options.drop_after = std::chrono::milliseconds(0);
  const Result r = ReadThrough(data, options, 2, /*stalled=*/true);
  EXPECT_EQ(r.status, ByteSource::Status::kEof);
  EXPECT_GT(r.counts.dropped, 0u);
  EXPECT_GT(CountLines(r.kept), 0);
  EXPECT_EQ(CountLines(r.kept) + static_cast<long>(r.counts.dropped), kLines);
  EXPECT_EQ(r.counts.bytes, data.size());
  // What was kept is whole lines of the input, in order.
  EXPECT_EQ(data.compare(0, r.kept.size(), r.kept), 0);
}

TEST(ChunkReaderTest, StalledPipelineWaitsOnlyOnceBeforeDropping) {
  // One line per write, as a logger writes: reads end on line boundaries.
  // A reader that waited drop_after on every read would take 2000 × 0.5 s;
  // it must wait once, then drain without waiting.
  ChunkReaderOptions options;
  options.read_bytes = 64;
  options.drop_after = std::chrono::milliseconds(500);
  const auto start = std::chrono::steady_clock::now();
  const Result r = ReadThrough(Lines(2000), options, 1, /*stalled=*/true);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
  EXPECT_EQ(CountLines(r.kept) + static_cast<long>(r.counts.dropped), 2000);
}

TEST(ChunkReaderTest, SlowWorkersArePacedNotDropped) {
  // A writer faster than the worker: with drop_after longer than a worker
  // needs to free a chunk, nothing is dropped.
  const std::string data = Lines(20000, "paced line ");
  ChunkReaderOptions options;
  options.read_bytes = 512;
  options.drop_after = std::chrono::milliseconds(10000);
  const Result r = ReadThrough(data, options, 2, /*stalled=*/false);
  EXPECT_EQ(r.counts.dropped, 0u);
  EXPECT_EQ(r.kept, data);
}

TEST(ChunkReaderTest, DroppedLineEndingInAPartialReadIsCountedOnce) {
  // One chunk only: the first read fills it and is queued; the rest has no
  // room. The last line has no newline.
  ChunkReaderOptions options;
  options.read_bytes = 100;
  options.drop_after = std::chrono::milliseconds(0);
  const Result r = ReadThrough(Lines(300) + "tail", options, 1, /*stalled=*/true);
  EXPECT_EQ(CountLines(r.kept) + static_cast<long>(r.counts.dropped), 301);
}

TEST(ChunkReaderTest, OverLongLinesAreSkippedWithoutBufferingThemWhole) {
  const std::string big(100000, 'x');
  ChunkReaderOptions options;
  options.read_bytes = 1000;
  options.max_line_bytes = 5000;
  options.drop_when_full = false;
  const Result r = ReadThrough("short\n" + big + "\nok\n" + big, options, 4, /*stalled=*/false);
  EXPECT_EQ(r.kept, "short\nok\n");
  EXPECT_EQ(r.counts.too_long, 2);
  EXPECT_LT(r.biggest_chunk, 4u * 5000);  // never held a 100 kB line
}

// A chunk_end hook that keeps back everything from the last line starting
// with "hold" (as TracebackSafeEnd keeps an open traceback).
std::size_t HoldFromLastHold(std::string_view lines) {
  const std::size_t at = lines.rfind("\nhold");
  return at == std::string_view::npos ? lines.size() : at + 1;
}

TEST(ChunkReaderTest, LinesKeptBackByTheHookOpenALaterChunkWhole) {
  // Every block "hold…" + its 3 lines must end up in one chunk, whatever the reads.
  std::string data;
  for (int i = 0; i < 300; ++i) data += "free " + std::to_string(i) + "\nhold\n1\n2\n3\n";
  ChunkReaderOptions options;
  options.read_bytes = 50;  // a block straddles most reads
  options.drop_when_full = false;
  options.chunk_end = HoldFromLastHold;
  Result r;
  Feeder feeder(data);
  FdSource source(feeder.fd());
  ChunkQueue queue(4);
  std::string error;
  std::thread reader([&] {
    r.status = ChunkReader(source, queue, options, r.counts).Run(&error);
    queue.Close();
  });
  std::vector<std::string> chunks;
  while (Chunk* c = queue.Pop()) {
    chunks.emplace_back(c->bytes.data(), c->size);
    queue.Release(c);
  }
  reader.join();
  std::string kept;
  for (const std::string& c : chunks) {
    kept += c;
    // A chunk never ends inside a block: after "hold", all of 1, 2, 3 follow.
    for (std::size_t hold = c.find("hold\n"); hold != std::string::npos;
         hold = c.find("hold\n", hold + 1)) {
      EXPECT_EQ(c.compare(hold, 11, "hold\n1\n2\n3\n"), 0) << c;
    }
  }
  EXPECT_EQ(kept, data);
  EXPECT_GT(chunks.size(), 10u);
}

TEST(ChunkReaderTest, KeptBackLinesSurviveATooLongLineAfterThem) {
  ChunkReaderOptions options;
  options.read_bytes = 1000;
  options.max_line_bytes = 3000;
  options.drop_when_full = false;
  options.chunk_end = HoldFromLastHold;
  const std::string big(20000, 'x');
  const Result r = ReadThrough("a\nhold\nb\n" + big + "\nc\n", options, 4, /*stalled=*/false);
  EXPECT_EQ(r.kept, "a\nhold\nb\nc\n");
  EXPECT_EQ(r.counts.too_long, 1);
}

}  // namespace
}  // namespace lle
