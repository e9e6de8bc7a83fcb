#include "llm_log_exporter/source/stop_signal.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <chrono>
#include <thread>

namespace lle {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Sleeps that would last a minute: ended early, they return well before.
constexpr seconds kLong{60};
constexpr seconds kEndedWithin{30};

bool Readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0;
}

TEST(StopSignalTest, ANudgeEndsTheNextSleepOnly) {
  StopSignal stop;
  stop.Nudge();
  stop.Nudge();  // still one: nudges do not pile up
  const auto start = Clock::now();
  stop.Sleep(kLong);
  EXPECT_LT(Clock::now() - start, kEndedWithin);
  const auto again = Clock::now();
  stop.Sleep(milliseconds(50));  // not ended: it lasts its time
  EXPECT_GE(Clock::now() - again, milliseconds(50));
  EXPECT_FALSE(stop.signalled());
}

TEST(StopSignalTest, ANudgeFromAnotherThreadEndsASleepUnderWay) {
  StopSignal stop;
  std::thread nudger([&] { stop.Nudge(); });  // before or during the sleep: either ends it
  const auto start = Clock::now();
  stop.Sleep(kLong);
  EXPECT_LT(Clock::now() - start, kEndedWithin);
  nudger.join();
}

TEST(StopSignalTest, ASignalEndsASleepUnderWayAndEveryLaterOne) {
  StopSignal stop;
  EXPECT_FALSE(Readable(stop.fd()));
  std::thread signaller([&] { stop.Signal(); });
  const auto start = Clock::now();
  stop.Sleep(kLong);
  EXPECT_LT(Clock::now() - start, kEndedWithin);
  signaller.join();
  EXPECT_TRUE(stop.signalled());
  EXPECT_TRUE(Readable(stop.fd()));  // for the waits that poll it
  const auto later = Clock::now();
  stop.Sleep(kLong);
  EXPECT_LT(Clock::now() - later, kEndedWithin);
}

}  // namespace
}  // namespace lle
