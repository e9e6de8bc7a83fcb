#include "llm_log_exporter/source/chunk_reader.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
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

TEST(ChunkReaderTest, LongLinesWithinTheLimitArriveWholeOverManyReads) {
  // Lines of hundreds of reads each, between short ones: each arrives whole,
  // in order; the one past the limit is skipped, the lines around it kept.
  std::string data = "a\nb\n";
  for (const std::size_t size : {20000, 3, 49999, 60000, 7, 20000}) {
    data += std::string(size, static_cast<char>('k' + size % 7)) + "\n";
  }
  data += "end\n";
  ChunkReaderOptions options;
  options.read_bytes = 100;
  options.max_line_bytes = 50000;
  options.drop_when_full = false;
  const Result r = ReadThrough(data, options, 4, /*stalled=*/false);
  std::string want = data;
  const std::string over = std::string(60000, static_cast<char>('k' + 60000 % 7)) + "\n";
  want.erase(want.find(over), over.size());
  EXPECT_EQ(r.kept, want);
  EXPECT_EQ(r.counts.too_long, 1);
  EXPECT_EQ(r.counts.bytes, data.size());
}

// A chunk_end hook that keeps back everything from the last line starting
// with "hold" (as TracebackSafeEnd keeps an open traceback).
std::size_t HoldFromLastHold(std::string_view lines) {
  const std::size_t at = lines.rfind("\nhold");
  if (at != std::string_view::npos) return at + 1;
  return lines.substr(0, 5) == "hold\n" ? 0 : lines.size();
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

// --- Pacing: a slow input is worked on the reader's thread, and rests --------

// Reads a script of writes, one a Read(): each comes `after` the previous one
// on a fake clock, which Rest() moves on too (nothing sleeps). Then end of stream.
class ScriptedSource : public ByteSource {
 public:
  struct Write {
    std::chrono::milliseconds after;
    std::string bytes;
  };
  explicit ScriptedSource(std::vector<Write> script) : script_(std::move(script)) {}

  Status Read(char* buffer, std::size_t capacity, std::size_t* n, std::string*) override {
    if (next_ == script_.size()) return Status::kEof;
    Write& r = script_[next_];
    now += r.after;
    r.after = {};
    *n = std::min(capacity, r.bytes.size());
    std::memcpy(buffer, r.bytes.data(), *n);
    r.bytes.erase(0, *n);
    if (r.bytes.empty()) ++next_;
    return Status::kData;
  }
  void Stop() override {}
  bool WaitReady(std::chrono::milliseconds) override { return next_ < script_.size(); }
  ReadPacer::Clock::time_point now{};
  std::vector<std::chrono::nanoseconds> rests;

 protected:
  void RestFor(std::chrono::nanoseconds duration) override {
    rests.push_back(duration);
    now += duration;
  }

 private:
  std::vector<Write> script_;
  std::size_t next_ = 0;
};

// Works chunks "here" while `free`, recording them.
struct RecordingWorker : LocalWorker {
  bool free = true;
  bool claimed = false;
  std::vector<std::pair<std::uint64_t, std::string>> chunks;
  bool TryClaim() override {
    EXPECT_FALSE(claimed);
    claimed = free;
    return free;
  }
  void Work(const Chunk& chunk) override {
    EXPECT_TRUE(claimed);
    claimed = false;
    chunks.emplace_back(chunk.seq, std::string(chunk.bytes.data(), chunk.size));
  }
};

struct PacedResult {
  std::vector<std::pair<std::uint64_t, std::string>> here, queued;
  std::vector<std::chrono::nanoseconds> rests;
};

// Runs a ChunkReader with a pacer over `script`, its chunks worked here if
// `local_free`, else queued for a worker.
PacedResult ReadPaced(std::vector<ScriptedSource::Write> script, ChunkReaderOptions options,
                      bool local_free = true) {
  ScriptedSource source(std::move(script));
  RecordingWorker local;
  local.free = local_free;
  options.drop_when_full = false;
  options.local = &local;
  options.now = [&source] { return source.now; };
  ChunkQueue queue(4, options.read_bytes + kLinePadding);
  PacedResult out;
  std::thread worker([&] {
    while (Chunk* c = queue.Pop()) {
      out.queued.emplace_back(c->seq, std::string(c->bytes.data(), c->size));
      queue.Release(c);
    }
  });
  Counts counts;
  std::string error;
  EXPECT_EQ(ChunkReader(source, queue, options, counts).Run(&error), ByteSource::Status::kEof);
  queue.Close();
  worker.join();
  out.here = local.chunks;
  out.rests = source.rests;
  return out;
}

std::string Joined(const std::vector<std::pair<std::uint64_t, std::string>>& chunks) {
  std::string out;
  for (const auto& c : chunks) out += c.second;
  return out;
}

TEST(ChunkReaderTest, ALineAWriteAtAThousandPerSecondIsWorkedHereAndRests) {
  std::vector<ScriptedSource::Write> script;
  std::string all;
  for (int i = 0; i < 50; ++i) {
    const std::string line = "line " + std::to_string(i) + "\n";
    // Every tenth line arrives in two writes: a line straddles the reads.
    if (i % 10 == 5) {
      script.push_back({std::chrono::milliseconds(1), line.substr(0, 3)});
      script.push_back({std::chrono::milliseconds(1), line.substr(3)});
    } else {
      script.push_back({std::chrono::milliseconds(1), line});
    }
    all += line;
  }
  const PacedResult r = ReadPaced(script, ChunkReaderOptions{});
  EXPECT_TRUE(r.queued.empty());
  EXPECT_EQ(Joined(r.here), all);
  for (std::size_t i = 0; i < r.here.size(); ++i) {
    EXPECT_EQ(r.here[i].first, i + 1) << "chunks numbered in read order, none skipped";
    EXPECT_EQ(r.here[i].second.back(), '\n');
  }
  // The fake source hands one scripted read per Read(): the pacer sees a
  // line per millisecond and asks for rests of the window.
  ASSERT_FALSE(r.rests.empty());
  for (const auto rest : r.rests) EXPECT_EQ(rest, ChunkReaderOptions{}.rest_window);
}

TEST(ChunkReaderTest, ASlowInputWhosePipelinesAreBusyIsQueuedInOrder) {
  std::vector<ScriptedSource::Write> script;
  std::string all;
  for (int i = 0; i < 20; ++i) {
    script.push_back({std::chrono::milliseconds(20), "line " + std::to_string(i) + "\n"});
    all += script.back().bytes;
  }
  const PacedResult r = ReadPaced(script, ChunkReaderOptions{}, /*local_free=*/false);
  EXPECT_TRUE(r.here.empty());
  EXPECT_TRUE(r.rests.empty()) << "a line every 20 ms: read as it comes";
  auto queued = r.queued;
  std::sort(queued.begin(), queued.end());
  EXPECT_EQ(Joined(queued), all);
  for (std::size_t i = 0; i < queued.size(); ++i) EXPECT_EQ(queued[i].first, i + 1);
}

TEST(ChunkReaderTest, AFastInputGoesToTheWorkersWithoutRests) {
  const std::string block = Lines(4000, "a line of a fast input ");  // ~100 kB a read
  std::vector<ScriptedSource::Write> script;
  for (int i = 0; i < 5; ++i) script.push_back({std::chrono::milliseconds(0), block});
  ChunkReaderOptions options;
  options.read_bytes = 64 * 1024;
  const PacedResult r = ReadPaced(script, options);
  auto queued = r.queued;
  std::sort(queued.begin(), queued.end());
  // Only the first read, after an idle time, may be worked here.
  EXPECT_LE(r.here.size(), 1u);
  EXPECT_GT(queued.size(), 5u);
  std::string all;
  for (int i = 0; i < 5; ++i) all += block;
  std::vector<std::pair<std::uint64_t, std::string>> both = r.here;
  both.insert(both.end(), queued.begin(), queued.end());
  std::sort(both.begin(), both.end());
  EXPECT_EQ(Joined(both), all);
  EXPECT_TRUE(r.rests.empty());
}

TEST(ChunkReaderTest, ZeroRestWindowNeverWorksHereNorRests) {
  std::vector<ScriptedSource::Write> script;
  for (int i = 0; i < 20; ++i) script.push_back({std::chrono::milliseconds(1), "line\n"});
  ChunkReaderOptions options;
  options.rest_window = std::chrono::milliseconds(0);
  const PacedResult r = ReadPaced(script, options);
  EXPECT_TRUE(r.here.empty());
  EXPECT_TRUE(r.rests.empty());
  EXPECT_EQ(r.queued.size(), 20u);
}

TEST(ChunkReaderTest, LinesKeptBackByTheHookStayWholeWhenWorkedHere) {
  // A slow input whose chunks are worked here: a held block is never split.
  std::vector<ScriptedSource::Write> script;
  std::string all;
  for (int i = 0; i < 30; ++i) {
    for (const std::string& line : {"free " + std::to_string(i) + "\n", std::string("hold\n"),
                                   std::string("1\n"), std::string("2\n"), std::string("3\n")}) {
      script.push_back({std::chrono::milliseconds(1), line});
      all += line;
    }
  }
  ChunkReaderOptions options;
  options.read_bytes = 4200;  // a chunk reads on while it holds lines back, up to ~100 bytes
  options.chunk_end = HoldFromLastHold;
  const PacedResult r = ReadPaced(script, options);
  auto chunks = r.here;
  chunks.insert(chunks.end(), r.queued.begin(), r.queued.end());
  std::sort(chunks.begin(), chunks.end());
  EXPECT_EQ(Joined(chunks), all);
  EXPECT_FALSE(r.here.empty());
  for (const auto& [seq, c] : chunks) {
    for (std::size_t hold = c.find("hold\n"); hold != std::string::npos;
         hold = c.find("hold\n", hold + 1)) {
      EXPECT_EQ(c.compare(hold, 11, "hold\n1\n2\n3\n"), 0) << c;
    }
  }
}

}  // namespace
}  // namespace lle
