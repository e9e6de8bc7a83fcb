#include "llm_log_exporter/source/chunk_reader.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

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

// Everything queued, in read order, and checks each chunk holds whole lines.
std::string DrainQueue(ChunkQueue& queue) {
  std::vector<std::pair<std::uint64_t, std::string>> chunks;
  while (Chunk* c = queue.Pop()) {
    EXPECT_GT(c->size, 0u);
    EXPECT_EQ(c->bytes[c->size - 1], '\n');
    chunks.emplace_back(c->seq, std::string(c->bytes.data(), c->size));
    queue.Release(c);
  }
  std::sort(chunks.begin(), chunks.end());
  std::string out;
  for (const auto& [seq, text] : chunks) out += text;
  return out;
}

TEST(ChunkReaderTest, ChunksHoldWholeLinesInOrder) {
  const std::string data = Lines(500) + "last line without newline";
  Feeder feeder(data);
  FdSource source(feeder.fd());
  ChunkQueue queue(4);
  Counts counts;
  ChunkReaderOptions options;
  options.read_bytes = 37;  // lines straddle every read
  options.drop_when_full = false;
  std::string got;
  std::thread worker([&] { got = DrainQueue(queue); });
  std::string error;
  EXPECT_EQ(ChunkReader(source, queue, options, counts).Run(&error), FdSource::Status::kEof);
  queue.Close();
  worker.join();
  EXPECT_EQ(got, data + "\n");
  EXPECT_EQ(counts.bytes, data.size());
  EXPECT_EQ(counts.dropped, 0u);
}

TEST(ChunkReaderTest, StalledPipelineNeverBlocksTheWriterAndCountsEveryDroppedLine) {
  // No worker runs: the pipeline is stalled. The reader must still drain the
  // pipe to its end (the Feeder's writer thread finishes) and account for
  // every line: queued in the two chunks, or dropped.
  constexpr int kLines = 20000;
  const std::string data = Lines(kLines, "a fairly long log line number ");
  Feeder feeder(data);
  FdSource source(feeder.fd());
  ChunkQueue queue(2);
  Counts counts;
  ChunkReaderOptions options;
  options.read_bytes = 4096;
  options.drop_after = std::chrono::milliseconds(0);
  std::string error;
  EXPECT_EQ(ChunkReader(source, queue, options, counts).Run(&error), FdSource::Status::kEof);
  queue.Close();
  const std::string kept = DrainQueue(queue);
  const auto kept_lines = static_cast<std::uint64_t>(std::count(kept.begin(), kept.end(), '\n'));
  EXPECT_GT(counts.dropped, 0u);
  EXPECT_GT(kept_lines, 0u);
  EXPECT_EQ(kept_lines + counts.dropped, static_cast<std::uint64_t>(kLines));
  EXPECT_EQ(counts.bytes, data.size());
  // What was kept is whole lines of the input, in order.
  EXPECT_NE(data.find(kept.substr(0, kept.find('\n') + 1)), std::string::npos);
}

TEST(ChunkReaderTest, StalledPipelineWaitsOnlyOnceBeforeDropping) {
  // One line per write, as a logger writes: reads end on line boundaries.
  // A reader that waited drop_after on every read would take 2000 × 0.5 s;
  // it must wait once, then drain without waiting.
  std::string data;
  for (int i = 0; i < 2000; ++i) data += "line " + std::to_string(i) + "\n";
  Feeder feeder(data);
  FdSource source(feeder.fd());
  ChunkQueue queue(1);
  Counts counts;
  ChunkReaderOptions options;
  options.read_bytes = 64;
  options.drop_after = std::chrono::milliseconds(500);
  std::string error;
  const auto start = std::chrono::steady_clock::now();
  ChunkReader(source, queue, options, counts).Run(&error);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
  queue.Close();
  const std::string kept = DrainQueue(queue);
  EXPECT_EQ(std::count(kept.begin(), kept.end(), '\n') + static_cast<long>(counts.dropped), 2000);
}

TEST(ChunkReaderTest, SlowWorkersArePacedNotDropped) {
  // A writer faster than the workers: with drop_after longer than a worker
  // needs to free a chunk, nothing is dropped.
  const std::string data = Lines(20000, "paced line ");
  Feeder feeder(data);
  FdSource source(feeder.fd());
  ChunkQueue queue(2);
  Counts counts;
  ChunkReaderOptions options;
  options.read_bytes = 512;
  options.drop_after = std::chrono::milliseconds(10000);
  std::string got;
  std::thread worker([&] { got = DrainQueue(queue); });
  std::string error;
  ChunkReader(source, queue, options, counts).Run(&error);
  queue.Close();
  worker.join();
  EXPECT_EQ(counts.dropped, 0u);
  EXPECT_EQ(got, data);
}

TEST(ChunkReaderTest, DroppedLineEndingInAPartialReadIsCountedOnce) {
  // One chunk only: the first read fills it and is queued; the rest has no
  // room. The last line has no newline.
  const std::string data = Lines(300) + "tail";
  Feeder feeder(data);
  FdSource source(feeder.fd());
  ChunkQueue queue(1);
  Counts counts;
  ChunkReaderOptions options;
  options.read_bytes = 100;
  options.drop_after = std::chrono::milliseconds(0);
  std::string error;
  ChunkReader(source, queue, options, counts).Run(&error);
  queue.Close();
  const std::string kept = DrainQueue(queue);
  EXPECT_EQ(std::count(kept.begin(), kept.end(), '\n') + static_cast<long>(counts.dropped), 301);
}

TEST(ChunkReaderTest, OverLongLinesAreSkippedWithoutBufferingThemWhole) {
  const std::string big(100000, 'x');
  const std::string data = "short\n" + big + "\nok\n" + big;
  Feeder feeder(data);
  FdSource source(feeder.fd());
  ChunkQueue queue(4);
  Counts counts;
  ChunkReaderOptions options;
  options.read_bytes = 1000;
  options.max_line_bytes = 5000;
  options.drop_when_full = false;
  std::string got;
  std::size_t biggest = 0;
  std::thread worker([&] {
    while (Chunk* c = queue.Pop()) {
      got.append(c->bytes.data(), c->size);
      biggest = std::max(biggest, c->bytes.size());
      queue.Release(c);
    }
  });
  std::string error;
  ChunkReader(source, queue, options, counts).Run(&error);
  queue.Close();
  worker.join();
  EXPECT_EQ(got, "short\nok\n");
  EXPECT_EQ(counts.too_long, 2);
  EXPECT_LT(biggest, 4u * 5000);  // never held a 100 kB line
}

}  // namespace
}  // namespace lle
