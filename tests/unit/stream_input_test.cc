// StreamInput and its Input base: lines read through a real pipe or a
// regular file (--once < FILE) are counted in the self-metrics,
// end of input and read errors set the input's state, Stop() ends an input
// that never ends, and OnApplied reports every batch in read order once its
// lines count.
#include "llm_log_exporter/app/stream_input.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "llm_log_exporter/app/exporter.h"
#include "llm_log_exporter/app/input_factory.h"
#include "llm_log_exporter/app/options.h"
#include "llm_log_exporter/app/self_counts.h"
#include "llm_log_exporter/config/config.h"
#include "llm_log_exporter/exposition/text_format.h"
#include "llm_log_exporter/source/fd_source.h"
#include "support/temp_dir.h"

namespace lle {
namespace {

constexpr std::size_t kLineBytes = 40;

// `n` request lines of exactly kLineBytes bytes each.
std::string Lines(int n) {
  std::string text;
  for (int i = 0; i < n; ++i) {
    char line[kLineBytes + 1];
    std::snprintf(line, sizeof(line), "{\"status\":\"success\",\"n\":\"%012d\"}\n", i);
    text.append(line, kLineBytes);
  }
  return text;
}

// Small reads (4 KiB chunks), so that a few thousand lines make many batches.
Options SmallBuffer(bool once) {
  Options options;
  options.input_buffer_bytes = 64 * 1024;
  options.once = once;
  return options;
}

// A pipe whose write end a thread fills with `text`, then closes (unless
// `keep_open`); the read end is closed at the end of the test.
class Pipe {
 public:
  explicit Pipe(std::string text, bool keep_open = false) {
    if (pipe(fds_) != 0) ADD_FAILURE() << "pipe()";
    writer_ = std::thread([this, text = std::move(text), keep_open] {
      for (std::size_t done = 0; done < text.size();) {
        const ssize_t n = write(fds_[1], text.data() + done, text.size() - done);
        if (n <= 0) break;
        done += static_cast<std::size_t>(n);
      }
      if (!keep_open) CloseWriter();
    });
  }
  ~Pipe() {
    writer_.join();
    CloseWriter();
    close(fds_[0]);
  }
  int fd() const { return fds_[0]; }

 private:
  void CloseWriter() {
    if (fds_[1] >= 0) close(fds_[1]);
    fds_[1] = -1;
  }
  int fds_[2] = {-1, -1};
  std::thread writer_;
};

// The self-metrics of stdin (the tests' one source).
SourceCounts StdinCounts(Exporter& exporter) {
  for (SourceCounts& counts : CountsBySource(exporter.self_store().Collect())) {
    if (counts.source == "stdin") return counts;
  }
  return {};
}

// `text` without the series that hold the time a line was read.
std::string WithoutClock(const std::string& text) {
  std::istringstream in(text);
  std::string kept;
  for (std::string line; std::getline(in, line);) {
    if (line.find("timestamp_seconds ") == std::string::npos) kept += line + "\n";
  }
  return kept;
}

// Records the batches OnApplied reports, and whether each one's lines (and
// those of every batch before it) were counted when it came.
class RecordingInput : public StreamInput {
 public:
  RecordingInput(Exporter& exporter, int fd, const Options& options, std::size_t workers)
      : StreamInput(exporter, kStdinSource, "stdin", std::make_unique<FdSource>(fd), options,
                    /*drop_when_full=*/false, workers),
        exporter_(exporter) {}

  void OnApplied(const AppliedBatch& batch) override {
    batches_.push_back(batch);
    applied_bytes_ += batch.bytes;
    if (StdinCounts(exporter_).TotalLines() < static_cast<double>(applied_bytes_ / kLineBytes)) {
      ++reported_early_;
    }
  }

  std::vector<AppliedBatch> batches_;  // guarded by Input (one OnApplied at a time)
  std::size_t applied_bytes_ = 0;
  int reported_early_ = 0;

 private:
  Exporter& exporter_;
};

// A source that fails at its first read.
class FailingSource : public ByteSource {
 public:
  Status Read(char*, std::size_t, std::size_t*, std::string* error) override {
    *error = "disk on fire";
    return Status::kError;
  }
  void Stop() override {}
};

TEST(StreamInputTest, CountsEveryLineOfAPipeAndEndsAtItsEnd) {
  const std::string text = Lines(5000);
  Exporter exporter(QwenPreset(), /*http_ingest=*/false);
  Pipe pipe(text);
  StreamInput input(exporter, kStdinSource, "stdin", std::make_unique<FdSource>(pipe.fd()),
                    SmallBuffer(false), /*drop_when_full=*/false, 2);
  EXPECT_EQ(input.state(), InputState::kReading);
  std::string error;
  EXPECT_EQ(input.RunHere(&error), ByteSource::Status::kEof) << error;
  EXPECT_EQ(input.state(), InputState::kEnded);
  const SourceCounts counts = StdinCounts(exporter);
  EXPECT_EQ(counts.TotalLines(), 5000);
  EXPECT_EQ(counts.Lines("request"), 5000);
  EXPECT_EQ(counts.bytes, static_cast<double>(text.size()));
}

TEST(StreamInputTest, ARegularFileGivesWhatThePipeGives) {
  // --once's input: a regular file, read from the descriptor's offset (here
  // past its first 10 lines) to its end (here a last line without '\n').
  const std::string head = Lines(10);
  const std::string text = Lines(20000) + "{\"status\":\"error\"}";
  test::TempDir dir;
  const int fd = open(dir.Write("log", head + text).c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(lseek(fd, static_cast<off_t>(head.size()), SEEK_SET), static_cast<off_t>(head.size()));
  Exporter file_exporter(QwenPreset(), false, {}, SumMode::kExact);
  {
    auto input = MakeOnceInput(file_exporter, SmallBuffer(true), fd);
    std::string error;
    EXPECT_EQ(input->RunHere(&error), ByteSource::Status::kEof) << error;
    EXPECT_EQ(input->state(), InputState::kEnded);
  }
  close(fd);
  const SourceCounts counts = StdinCounts(file_exporter);
  EXPECT_EQ(counts.Lines("request"), 20001);
  EXPECT_EQ(counts.bytes, static_cast<double>(text.size()));

  Exporter piped_exporter(QwenPreset(), false, {}, SumMode::kExact);
  {
    Pipe pipe(text);
    auto input = MakeOnceInput(piped_exporter, SmallBuffer(true), pipe.fd());
    std::string error;
    EXPECT_EQ(input->RunHere(&error), ByteSource::Status::kEof) << error;
  }
  EXPECT_EQ(WithoutClock(SerializeText(file_exporter.Collect())),
            WithoutClock(SerializeText(piped_exporter.Collect())));
}

TEST(StreamInputTest, StopEndsAnInputThatNeverEnds) {
  const std::string text = Lines(300);
  Exporter exporter(QwenPreset(), false);
  Pipe pipe(text, /*keep_open=*/true);
  StreamInput input(exporter, kStdinSource, "stdin", std::make_unique<FdSource>(pipe.fd()),
                    SmallBuffer(false), /*drop_when_full=*/true, 2);
  input.Start();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (StdinCounts(exporter).TotalLines() < 300 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_EQ(StdinCounts(exporter).TotalLines(), 300);
  input.Stop();
  input.Join();  // hangs (the test times out) if Stop() did not end the read
  // Stopped is no end of input: the daemon is shutting down.
  EXPECT_EQ(input.state(), InputState::kReading);
}

// A live pipe is grown so that its reader may rest longer (PaceForPipe);
// --once reads as fast as it can and leaves the pipe as it is.
TEST(StreamInputTest, ALivePipeIsGrownAndAOncePipeIsNot) {
  Exporter exporter(QwenPreset(), false);
  for (const bool once : {false, true}) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const int before = fcntl(fds[0], F_GETPIPE_SZ);
    Options options = SmallBuffer(once);
    StreamInput input(exporter, kStdinSource, "stdin", std::make_unique<FdSource>(fds[0]), options,
                      /*drop_when_full=*/true, 1);
    input.PaceForPipe(fds[0]);
    const int after = fcntl(fds[0], F_GETPIPE_SZ);
    if (once) {
      EXPECT_EQ(after, before);
    } else {
      // What an unprivileged process may ask for (1 MiB by default; root may ask more).
      std::ifstream max_file("/proc/sys/fs/pipe-max-size");
      long max_size = 0;
      max_file >> max_size;
      EXPECT_EQ(after, max_size >= 1024 * 1024 || geteuid() == 0 ? 1024 * 1024 : before);
    }
    close(fds[0]);
    close(fds[1]);
  }
}

TEST(StreamInputTest, AReadErrorFailsTheInput) {
  Exporter exporter(QwenPreset(), false);
  StreamInput here(exporter, kStdinSource, "stdin", std::make_unique<FailingSource>(),
                   SmallBuffer(false), false, 1);
  std::string error;
  EXPECT_EQ(here.RunHere(&error), ByteSource::Status::kError);
  EXPECT_EQ(error, "disk on fire");
  EXPECT_EQ(here.state(), InputState::kFailed);

  StreamInput threaded(exporter, kStdinSource, "stdin", std::make_unique<FailingSource>(),
                       SmallBuffer(false), false, 1);
  threaded.Start();
  threaded.Join();
  EXPECT_EQ(threaded.state(), InputState::kFailed);
}

// Every batch reported once, in read order, after its lines are counted.
void ExpectBatchesInOrder(const RecordingInput& input, std::size_t total_bytes) {
  ASSERT_GT(input.batches_.size(), 10u);  // small reads: many batches
  for (std::size_t i = 1; i < input.batches_.size(); ++i) {
    EXPECT_LT(input.batches_[i - 1].seq, input.batches_[i].seq) << "batch " << i;
  }
  EXPECT_EQ(input.applied_bytes_, total_bytes);
  EXPECT_EQ(input.reported_early_, 0);
}

TEST(StreamInputTest, OnAppliedReportsEveryBatchInReadOrderOnceItsLinesCount) {
  const std::string text = Lines(20000);
  Exporter exporter(QwenPreset(), false);
  Pipe pipe(text);
  RecordingInput input(exporter, pipe.fd(), SmallBuffer(false), /*workers=*/3);
  std::string error;
  EXPECT_EQ(input.RunHere(&error), ByteSource::Status::kEof) << error;
  ExpectBatchesInOrder(input, text.size());
  EXPECT_EQ(StdinCounts(exporter).TotalLines(), 20000);
}

TEST(StreamInputTest, OnAppliedReportsARegularFilesBatchesInOrder) {
  const std::string text = Lines(20000);
  test::TempDir dir;
  const int fd = open(dir.Write("log", text).c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  Exporter exporter(QwenPreset(), false);
  {
    RecordingInput input(exporter, fd, SmallBuffer(true), /*workers=*/3);
    std::string error;
    EXPECT_EQ(input.RunHere(&error), ByteSource::Status::kEof) << error;
    ExpectBatchesInOrder(input, text.size());
  }
  close(fd);
  EXPECT_EQ(StdinCounts(exporter).TotalLines(), 20000);
}

TEST(InputFactoryTest, EachFollowedFileIsAnInputInTheExportersSourceOrder) {
  test::TempDir dir;
  Options options;
  options.input_files = {dir.Write("a.log", Lines(100)), dir.Write("b.log", Lines(7))};
  options.input_from_beginning = true;
  EXPECT_FALSE(ReadsStdin(options));
  Exporter exporter(QwenPreset(), ExporterInputs{false, false, options.input_files, {}});
  const std::vector<std::unique_ptr<Input>> inputs =
      MakeInputs(exporter, options, ReadsStdin(options));
  ASSERT_EQ(inputs.size(), 2u);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    EXPECT_EQ(inputs[i]->name(), options.input_files[i]);
    EXPECT_EQ(inputs[i]->source(), exporter.FileSource(i));
    inputs[i]->Start();
  }
  // Each file's lines under its own `source`, while it is followed.
  const auto lines_of = [&exporter](const std::string& source) {
    for (const SourceCounts& counts : CountsBySource(exporter.self_store().Collect())) {
      if (counts.source == source) return counts.TotalLines();
    }
    return -1.0;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while ((lines_of(options.input_files[0]) < 100 || lines_of(options.input_files[1]) < 7) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_EQ(lines_of(options.input_files[0]), 100);
  EXPECT_EQ(lines_of(options.input_files[1]), 7);
  for (const auto& input : inputs) input->Stop();
  for (const auto& input : inputs) {
    input->Join();
    EXPECT_EQ(input->state(), InputState::kReading);  // a followed file never ends
  }
}

TEST(InputFactoryTest, OnlyAFileAsStdinNeverDropsLines) {
  Pipe pipe("x\n");
  EXPECT_TRUE(StdinDropsWhenFull(pipe.fd()));
  test::TempDir dir;
  const int fd = open(dir.Write("log", "x\n").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  EXPECT_FALSE(StdinDropsWhenFull(fd));
  close(fd);
}

TEST(InputFactoryTest, StdinIsReadWhenNoFileIsFollowed) {
  Options options;
  EXPECT_TRUE(ReadsStdin(options));
  options.input_files = {"/nonexistent/x.log"};
  EXPECT_FALSE(ReadsStdin(options));
}

}  // namespace
}  // namespace lle
