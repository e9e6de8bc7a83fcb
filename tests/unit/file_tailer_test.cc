// FileTailer as Input::Flush relies on it: while the reader reports that it
// waits, what was written since its last read shows as unread.
#include "llm_log_exporter/source/file_tailer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "support/temp_dir.h"

namespace lle {
namespace {

using std::chrono::milliseconds;

TEST(FileTailerTest, TheChangeThatEndsAWaitIsStillUnreadWhenTheWaitIsReportedOver) {
  // A scrape that finds the reader waiting and nothing unread does not wait
  // for it: the change that woke it must not be taken before the reader says
  // the wait is over.
  test::TempDir dir;
  const std::string path = dir.Write("app.log", "");
  FileTailer tailer(path, /*from_beginning=*/false, {}, /*poll_interval=*/milliseconds(60000));
  std::atomic<bool> waiting{false};
  std::atomic<int> resumed{0};
  std::atomic<bool> unread_when_resumed{false};
  tailer.OnProgress([&](ByteSource::Progress progress) {
    if (progress == ByteSource::Progress::kWaiting) waiting.store(true);
    if (progress == ByteSource::Progress::kResumed) {
      unread_when_resumed.store(tailer.HasUnread());
      resumed.fetch_add(1);
    }
  });
  char buffer[256];
  std::size_t n = 0;
  std::string error;
  ByteSource::Status status = ByteSource::Status::kError;
  std::thread reader([&] { status = tailer.Read(buffer, sizeof buffer, &n, &error); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!waiting.load() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  ASSERT_TRUE(waiting.load());
  EXPECT_FALSE(tailer.HasUnread());
  std::ofstream(path, std::ios::app) << "a line\n";
  reader.join();
  ASSERT_EQ(status, ByteSource::Status::kData) << error;
  EXPECT_EQ(std::string(buffer, n), "a line\n");
  EXPECT_EQ(resumed.load(), 1);
  EXPECT_TRUE(unread_when_resumed.load());
}

}  // namespace
}  // namespace lle
