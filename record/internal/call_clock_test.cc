#include "record/internal/call_clock.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace slabtrace {
namespace record_internal {
namespace {

// Calls `calls` times, `ticks_apart` clock ticks apart, and returns which
// of them read the clock.
std::vector<bool> TimedCalls(CallClock& clock, uint64_t& now, int calls,
                             uint64_t ticks_apart, uint32_t epoch = 0,
                             uint32_t calls_per_stamp = kCallsPerStamp) {
  std::vector<bool> timed;
  for (int i = 0; i < calls; ++i) {
    now += ticks_apart;
    bool read = false;
    const uint64_t stamp = clock.Stamp(epoch, calls_per_stamp, [&] {
      read = true;
      return now;
    });
    EXPECT_EQ(stamp != kUntimedStamp, read);
    if (read) {
      EXPECT_EQ(stamp, now);
    }
    timed.push_back(read);
  }
  return timed;
}

int CountTimed(const std::vector<bool>& timed) {
  int count = 0;
  for (bool t : timed) count += t;
  return count;
}

TEST(CallClockTest, SparseCallsAreAllTimed) {
  CallClock clock;
  uint64_t now = 1000000;
  const std::vector<bool> timed =
      TimedCalls(clock, now, 100, kBusyTicksPerCall + 1);
  EXPECT_EQ(CountTimed(timed), 100);
}

TEST(CallClockTest, BackToBackCallsAreTimedEverySixteenth) {
  CallClock clock;
  uint64_t now = 1000000;
  const std::vector<bool> timed = TimedCalls(clock, now, 1000, 100);
  // The first call is timed (nothing before it), the second too (the
  // first window was one call, 100 ticks: busy from then on).
  ASSERT_TRUE(timed[0]);
  ASSERT_TRUE(timed[1]);
  for (int i = 2; i < 1000; ++i) {
    EXPECT_EQ(timed[i], (i - 1) % kCallsPerStamp == 0) << i;
  }
}

TEST(CallClockTest, OneCallPerStampTimesEveryCall) {
  CallClock clock;
  uint64_t now = 1000000;
  const std::vector<bool> timed =
      TimedCalls(clock, now, 100, 1, /*epoch=*/0, /*calls_per_stamp=*/1);
  EXPECT_EQ(CountTimed(timed), 100);
}

TEST(CallClockTest, WriterWakeUpTimesTheNextCall) {
  CallClock clock;
  uint64_t now = 1000000;
  TimedCalls(clock, now, 20, 100, /*epoch=*/7);
  // A long pause, during which the writer woke: the first call after it
  // is timed, however busy the thread was before.
  now += 50'000'000;
  std::vector<bool> timed = TimedCalls(clock, now, 1, 100, /*epoch=*/8);
  EXPECT_TRUE(timed[0]);
  // The pause made that window slow, so the next call is timed too.
  timed = TimedCalls(clock, now, 1, 100, /*epoch=*/8);
  EXPECT_TRUE(timed[0]);
}

TEST(CallClockTest, SlowingDownTimesEveryCallAgain) {
  CallClock clock;
  uint64_t now = 1000000;
  TimedCalls(clock, now, 64, 100);
  // The window the slow-down starts in may still average fast, so up to
  // two windows of calls pass before every call is timed.
  const std::vector<bool> timed =
      TimedCalls(clock, now, 64, 2 * kBusyTicksPerCall);
  const int window = static_cast<int>(kCallsPerStamp);
  EXPECT_LT(
      CountTimed(std::vector<bool>(timed.begin(), timed.begin() + 2 * window)),
      2 * window);
  for (int i = 2 * window; i < 64; ++i) EXPECT_TRUE(timed[i]) << i;
}

TEST(CallClockTest, ClockGoingBackCountsAsSparse) {
  CallClock clock;
  uint64_t now = 1000000;
  TimedCalls(clock, now, 2, 100);
  // The writer woke, and the next reading is a little behind the last
  // (another core's TSC): that window counts as slow, not as 2^64 fast.
  now -= 1000;
  EXPECT_EQ(CountTimed(TimedCalls(clock, now, 1, 1, /*epoch=*/1)), 1);
  EXPECT_EQ(CountTimed(TimedCalls(clock, now, 1, 1, /*epoch=*/1)), 1);
}

}  // namespace
}  // namespace record_internal
}  // namespace slabtrace
