#include "llm_log_exporter/source/mapped_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "llm_log_exporter/core/line.h"
#include "support/temp_dir.h"

namespace lle {
namespace {

// An open descriptor of a file, closed at the end of the test.
class OpenFile {
 public:
  explicit OpenFile(const std::string& path) : fd_(open(path.c_str(), O_RDWR)) {}
  ~OpenFile() {
    if (fd_ >= 0) close(fd_);
  }
  int fd() const { return fd_; }

 private:
  int fd_;
};

std::string Lines(int n) {
  std::string text;
  for (int i = 0; i < n; ++i) {
    text += "{\"status\":\"success\",\"n\":" + std::to_string(i) + ",\"pad\":\"" +
            std::string(static_cast<std::size_t>(i % 97), 'p') + "\"}\n";
  }
  return text;
}

ChunkReaderOptions SmallChunks() {
  ChunkReaderOptions options;
  options.read_bytes = 4096;
  options.max_line_bytes = 1024;
  return options;
}

TEST(MappedFileTest, ChunksAreTheWholeLinesInOrder) {
  const std::string text = Lines(5000) + "a last line without newline";
  test::TempDir dir;
  OpenFile file(dir.Write("log", text));
  auto mapped = MappedFile::Open(file.fd(), SmallChunks(), 2);
  ASSERT_NE(mapped, nullptr);
  std::string seen;
  std::uint64_t last_seq = 0;
  MappedFile::Chunk chunk;
  for (std::size_t worker = 0; mapped->Next(worker, &chunk); worker ^= 1) {
    ASSERT_FALSE(chunk.lines.empty());
    EXPECT_EQ(chunk.lines.back(), '\n');
    EXPECT_GT(chunk.seq, last_seq);
    last_seq = chunk.seq;
    // The padding after a chunk is readable.
    volatile char past = chunk.lines.data()[chunk.lines.size() + kLinePadding - 1];
    (void)past;
    seen.append(chunk.lines);
  }
  EXPECT_GT(last_seq, 10u);
  const std::size_t whole = text.rfind('\n') + 1;
  EXPECT_TRUE(seen == text.substr(0, whole));
  EXPECT_EQ(mapped->offset(), static_cast<off_t>(whole));
}

TEST(MappedFileTest, StartsAtTheDescriptorsOffset) {
  const std::string text = Lines(300);
  test::TempDir dir;
  OpenFile file(dir.Write("log", text));
  const std::size_t start = text.find('\n', 5000) + 1;  // not on a page boundary
  ASSERT_EQ(lseek(file.fd(), static_cast<off_t>(start), SEEK_SET), static_cast<off_t>(start));
  auto mapped = MappedFile::Open(file.fd(), SmallChunks(), 1);
  ASSERT_NE(mapped, nullptr);
  std::string seen;
  MappedFile::Chunk chunk;
  while (mapped->Next(0, &chunk)) seen.append(chunk.lines);
  EXPECT_TRUE(seen == text.substr(start));
  EXPECT_EQ(mapped->offset(), static_cast<off_t>(text.size()));
}

TEST(MappedFileTest, PaddingPastAFileThatEndsOnAPage) {
  const std::string text =
      std::string(static_cast<std::size_t>(sysconf(_SC_PAGESIZE)) - 1, 'x') + "\n";
  test::TempDir dir;
  OpenFile file(dir.Write("log", text));
  auto mapped = MappedFile::Open(file.fd(), SmallChunks(), 1);
  ASSERT_NE(mapped, nullptr);
  MappedFile::Chunk chunk;
  ASSERT_TRUE(mapped->Next(0, &chunk));
  ASSERT_EQ(chunk.lines.size(), text.size());
  for (std::size_t i = 0; i < kLinePadding; ++i) EXPECT_EQ(chunk.lines.data()[text.size() + i], 0);
  EXPECT_FALSE(mapped->Next(0, &chunk));
}

TEST(MappedFileTest, OnlyRegularFilesWithAWholeLine) {
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  EXPECT_EQ(MappedFile::Open(pipe_fds[0], SmallChunks(), 1), nullptr);
  close(pipe_fds[0]);
  close(pipe_fds[1]);
  test::TempDir dir;
  OpenFile empty(dir.Write("empty", ""));
  EXPECT_EQ(MappedFile::Open(empty.fd(), SmallChunks(), 1), nullptr);
  OpenFile partial(dir.Write("partial", "no newline yet"));
  EXPECT_EQ(MappedFile::Open(partial.fd(), SmallChunks(), 1), nullptr);
}

TEST(MappedFileTest, OneAtATime) {
  test::TempDir dir;
  OpenFile a(dir.Write("a", Lines(10)));
  OpenFile b(dir.Write("b", Lines(10)));
  auto first = MappedFile::Open(a.fd(), SmallChunks(), 1);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(MappedFile::Open(b.fd(), SmallChunks(), 1), nullptr);
  first.reset();
  EXPECT_NE(MappedFile::Open(b.fd(), SmallChunks(), 1), nullptr);
}

// A line over the limit is left to the stream reader, which skips it
// without holding it whole: the mapped part ends before it.
TEST(MappedFileTest, EndsBeforeALineOverTheLimit) {
  const std::string head = Lines(200);
  const std::string text = head + std::string(5000, 'L') + "\n" + Lines(10);
  test::TempDir dir;
  OpenFile file(dir.Write("log", text));
  auto mapped = MappedFile::Open(file.fd(), SmallChunks(), 1);
  ASSERT_NE(mapped, nullptr);
  std::string seen;
  MappedFile::Chunk chunk;
  while (mapped->Next(0, &chunk)) seen.append(chunk.lines);
  EXPECT_TRUE(seen == head);
  EXPECT_EQ(mapped->offset(), static_cast<off_t>(head.size()));
}

TEST(MappedFileTest, ChunkEndHookKeepsLinesForTheNextChunk) {
  const std::string text = Lines(2000);
  test::TempDir dir;
  OpenFile file(dir.Write("log", text));
  ChunkReaderOptions options = SmallChunks();
  // Ends each chunk after its first line.
  options.chunk_end = [](std::string_view lines) { return lines.find('\n') + 1; };
  auto mapped = MappedFile::Open(file.fd(), options, 1);
  ASSERT_NE(mapped, nullptr);
  std::string seen;
  MappedFile::Chunk chunk;
  int chunks = 0;
  while (mapped->Next(0, &chunk)) {
    seen.append(chunk.lines);
    ++chunks;
  }
  EXPECT_TRUE(seen == text);
  EXPECT_GT(chunks, 1000);  // one line each, but for the last chunk
}

// Cut shorter while mapped (e.g. copytruncate on the file given as stdin):
// the lost pages read as zeros instead of killing the process with SIGBUS.
TEST(MappedFileTest, AFileTruncatedWhileMappedReadsAsZeros) {
  const std::string text = Lines(20000);
  test::TempDir dir;
  OpenFile file(dir.Write("log", text));
  auto mapped = MappedFile::Open(file.fd(), SmallChunks(), 1);
  ASSERT_NE(mapped, nullptr);
  EXPECT_FALSE(MappedFile::truncated());
  MappedFile::Chunk chunk;
  ASSERT_TRUE(mapped->Next(0, &chunk));
  ASSERT_EQ(ftruncate(file.fd(), 0), 0);
  // The chunk being worked when it happened:
  std::size_t zeros = 0;
  for (const char c : chunk.lines) zeros += c == 0 ? 1 : 0;
  EXPECT_EQ(zeros, chunk.lines.size());
  EXPECT_TRUE(MappedFile::truncated());
  // No chunk after it: the stream reader goes on from there (and finds the end).
  EXPECT_FALSE(mapped->Next(0, &chunk));
  EXPECT_EQ(mapped->offset(), static_cast<off_t>(chunk.lines.size()));
}

}  // namespace
}  // namespace lle
