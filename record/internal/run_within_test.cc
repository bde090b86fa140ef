#include "record/internal/run_within.h"

#include <time.h>

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "gtest/gtest.h"

namespace slabtrace {
namespace record_internal {
namespace {

uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u +
         static_cast<uint64_t>(ts.tv_nsec);
}

TEST(RunWithinTest, ReturnsTheResultOfAFunctionThatFinishes) {
  const std::optional<std::string> result = RunWithin<std::string>(
      [] { return std::string("stats"); }, 5'000'000'000);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(*result, "stats");
}

TEST(RunWithinTest, GivesUpOnAFunctionThatBlocks) {
  // Stands in for mallctl("epoch") waiting on a lock that is never released.
  static std::atomic<bool> release{false};
  const uint64_t start = NowNs();
  const std::optional<int> result = RunWithin<int>(
      [] {
        while (!release.load()) {
          timespec pause = {0, 1000000};
          nanosleep(&pause, nullptr);
        }
        return 1;
      },
      50'000'000);
  const uint64_t waited = NowNs() - start;
  EXPECT_FALSE(result.has_value());
  EXPECT_GE(waited, 50'000'000u);
  EXPECT_LT(waited, 5'000'000'000u);  // bounded, with room for a busy machine.
  release.store(true);                // let the abandoned thread end.
}

}  // namespace
}  // namespace record_internal
}  // namespace slabtrace
