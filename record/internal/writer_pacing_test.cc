#include "record/internal/writer_pacing.h"

#include <cstdint>

#include "gtest/gtest.h"

namespace slabtrace {
namespace record_internal {
namespace {

constexpr uint32_t kRing = 32768;
constexpr uint64_t kMax = 20'000'000;  // 20 ms, the default ceiling.

TEST(WriterPacingTest, SleepsUntilAQuarterOfTheRingWouldFill) {
  // Redis with -P 16: about 5 M calls/s, 5,000 slots in a 1 ms cycle.
  // A quarter ring (8,192 slots) fills in 1.6384 ms.
  EXPECT_EQ(WriterSleepNs(5000, 1'000'000, kRing, kMax), 1'638'400u);
  // Twice the rate, half the sleep.
  EXPECT_EQ(WriterSleepNs(10000, 1'000'000, kRing, kMax), 819'200u);
  // A smaller ring fills sooner.
  EXPECT_EQ(WriterSleepNs(5000, 1'000'000, kRing / 2, kMax), 819'200u);
}

TEST(WriterPacingTest, NothingConsumedSleepsTheLongest) {
  EXPECT_EQ(WriterSleepNs(0, 1'000'000, kRing, kMax), kMax);
}

TEST(WriterPacingTest, SlowProgramsSleepTheLongest) {
  // 1,000 calls/s: a quarter ring would take 8 s.
  EXPECT_EQ(WriterSleepNs(20, 20'000'000, kRing, kMax), kMax);
}

TEST(WriterPacingTest, NeverSleepsLessThanTheFloor) {
  // 100 M calls/s would give 82 us; the floor keeps wake-ups bounded.
  EXPECT_EQ(WriterSleepNs(100'000'000, 1'000'000'000, kRing, kMax),
            kMinWriterSleepNs);
  // A ceiling below the floor does not make the writer spin either.
  EXPECT_EQ(WriterSleepNs(0, 1, kRing, 1000), kMinWriterSleepNs);
  EXPECT_EQ(WriterSleepNs(1, 1'000'000'000, kRing, 1000), kMinWriterSleepNs);
}

TEST(WriterPacingTest, LongCyclesDoNotOverflow) {
  // slots × ns would wrap 64 bits here: 2^31 × 2^40.
  EXPECT_EQ(WriterSleepNs(1, uint64_t{1} << 40, uint32_t{1} << 31, kMax), kMax);
  EXPECT_EQ(WriterSleepNs(uint64_t{1} << 40, uint64_t{1} << 40,
                          uint32_t{1} << 31, uint64_t{1} << 62),
            uint64_t{1} << 29);
}

}  // namespace
}  // namespace record_internal
}  // namespace slabtrace
