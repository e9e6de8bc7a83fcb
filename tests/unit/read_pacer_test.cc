#include "llm_log_exporter/source/read_pacer.h"

#include <gtest/gtest.h>

#include <string>

namespace lle {
namespace {

using std::chrono::milliseconds;
using Clock = ReadPacer::Clock;

constexpr milliseconds kWindow{10};
constexpr std::size_t kSlowBytes = 64 * 1024;
constexpr std::size_t kRestBytes = 256 * 1024;

std::string ManyLines(int n, std::size_t line_bytes = 300) {
  std::string out;
  for (int i = 0; i < n; ++i) out += std::string(line_bytes - 1, 'x') + "\n";
  return out;
}

// Feeds `pacer` one read of `bytes` every `every`, `reads` times from `*now`.
ReadPacer::Pace Reads(ReadPacer& pacer, Clock::time_point* now, milliseconds every,
                      const std::string& bytes, int reads) {
  ReadPacer::Pace pace;
  for (int i = 0; i < reads; ++i) {
    *now += every;
    pace = pacer.OnRead(*now, bytes, /*filled=*/false);
  }
  return pace;
}

TEST(ReadPacerTest, FirstReadAfterIdleIsSlowIfSmallAndNeverRests) {
  ReadPacer pacer(kWindow, kSlowBytes, kRestBytes);
  const ReadPacer::Pace pace = pacer.OnRead(Clock::time_point{}, ManyLines(10), false);
  EXPECT_TRUE(pace.slow);
  EXPECT_EQ(pace.rest, Clock::duration::zero());
  ReadPacer big(kWindow, kSlowBytes, kRestBytes);
  EXPECT_FALSE(big.OnRead(Clock::time_point{}, ManyLines(1000), false).slow);
}

TEST(ReadPacerTest, ALineEveryWindowOrLessOftenIsReadAsItComes) {
  // 100 lines/s: a rest would find one line at most, and cost a wake-up.
  ReadPacer pacer(kWindow, kSlowBytes, kRestBytes);
  Clock::time_point now{};
  const ReadPacer::Pace pace = Reads(pacer, &now, milliseconds(10), ManyLines(1), 5);
  EXPECT_TRUE(pace.slow);
  EXPECT_EQ(pace.rest, Clock::duration::zero());
}

TEST(ReadPacerTest, OneLinePerWriteAtAThousandPerSecondRestsAWindow) {
  ReadPacer pacer(kWindow, kSlowBytes, kRestBytes);
  Clock::time_point now{};
  ReadPacer::Pace pace = Reads(pacer, &now, milliseconds(1), ManyLines(1), 2);
  EXPECT_TRUE(pace.slow);
  EXPECT_EQ(pace.rest, kWindow);
  // After the rest the read takes the ten lines written meanwhile: still slow, rest again.
  pace = Reads(pacer, &now, kWindow, ManyLines(10), 3);
  EXPECT_TRUE(pace.slow);
  EXPECT_EQ(pace.rest, kWindow);
  // The writer slows down to a line every 20 ms: read as it comes again.
  pace = Reads(pacer, &now, milliseconds(20), ManyLines(1), 1);
  EXPECT_TRUE(pace.slow);
  EXPECT_EQ(pace.rest, Clock::duration::zero());
}

TEST(ReadPacerTest, FasterThanSlowButBelowAReadPerWindowRestsForTheWorkers) {
  // 100 kB per window: workers share the lines, and a rest still saves wake-ups.
  ReadPacer pacer(kWindow, kSlowBytes, kRestBytes);
  Clock::time_point now{};
  const ReadPacer::Pace pace = Reads(pacer, &now, kWindow, ManyLines(340), 3);
  EXPECT_FALSE(pace.slow);
  EXPECT_EQ(pace.rest, kWindow);
}

TEST(ReadPacerTest, RestsLessWhereRestBytesWouldPileUpSooner) {
  // 171 lines of 300 bytes a millisecond: kRestBytes pile up in 5.1 ms.
  ReadPacer pacer(kWindow, kSlowBytes, kRestBytes);
  Clock::time_point now{};
  ReadPacer::Pace pace = Reads(pacer, &now, milliseconds(1), ManyLines(171), 3);
  EXPECT_FALSE(pace.slow);
  const auto full = std::chrono::microseconds(kRestBytes * 1000 / (171 * 300));  // 5110
  EXPECT_GE(pace.rest, full - std::chrono::microseconds(1));
  EXPECT_LE(pace.rest, full + std::chrono::microseconds(1));
  // Three times as fast: 1.7 ms, under a quarter window: read as it comes.
  pace = Reads(pacer, &now, milliseconds(1), ManyLines(513), 3);
  EXPECT_EQ(pace.rest, Clock::duration::zero());
}

TEST(ReadPacerTest, FullSpeedNeverRestsAndIsNotSlow) {
  ReadPacer pacer(kWindow, kSlowBytes, kRestBytes);
  Clock::time_point now{};
  ReadPacer::Pace pace = Reads(pacer, &now, milliseconds(1), ManyLines(800), 3);
  EXPECT_FALSE(pace.slow);
  EXPECT_EQ(pace.rest, Clock::duration::zero());
  // Reads at no measurable interval: no division by zero, fast.
  pace = Reads(pacer, &now, milliseconds(0), ManyLines(1), 3);
  EXPECT_FALSE(pace.slow);
  EXPECT_EQ(pace.rest, Clock::duration::zero());
}

TEST(ReadPacerTest, AReadThatFilledItsRoomNeverRestsNorIsSlow) {
  // After a rest, a pipe read capped at its room (kRestBytes here) would look
  // like a rate a rest absorbs, and the reader would rest again and again
  // while the writer waits: a full read means more is waiting.
  ReadPacer pacer(kWindow, kSlowBytes, kRestBytes);
  Clock::time_point now{};
  Reads(pacer, &now, milliseconds(1), ManyLines(1), 2);  // resting
  now += kWindow;
  const ReadPacer::Pace pace = pacer.OnRead(now, ManyLines(10), /*filled=*/true);
  EXPECT_FALSE(pace.slow);
  EXPECT_EQ(pace.rest, Clock::duration::zero());
}

TEST(ReadPacerTest, PartOfOneLineIsNoReasonToRest) {
  ReadPacer pacer(kWindow, kSlowBytes, kRestBytes);
  Clock::time_point now{};
  const ReadPacer::Pace pace = Reads(pacer, &now, milliseconds(1), "no line end yet", 3);
  EXPECT_TRUE(pace.slow);
  EXPECT_EQ(pace.rest, Clock::duration::zero());
}

TEST(ReadPacerTest, ZeroWindowNeverRestsNorIsSlow) {
  ReadPacer pacer(Clock::duration::zero(), kSlowBytes, kRestBytes);
  Clock::time_point now{};
  for (const milliseconds every : {milliseconds(0), milliseconds(1), milliseconds(1000)}) {
    const ReadPacer::Pace pace = Reads(pacer, &now, every, ManyLines(1), 3);
    EXPECT_FALSE(pace.slow);
    EXPECT_EQ(pace.rest, Clock::duration::zero());
  }
}

}  // namespace
}  // namespace lle
