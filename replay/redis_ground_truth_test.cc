// The replay against jemalloc's own counters on real recordings of Debian's
// redis-server (testdata/redis/): at every marker that carries statistics,
// every size class must be within the thread-cache bound, and the traces
// must replay without inconsistencies and agree with their trailers.

#include <string>

#include "gtest/gtest.h"
#include "proto/trace_reader.h"
#include "replay/replayer.h"

namespace slabtrace {
namespace {

class RedisGroundTruthTest : public ::testing::TestWithParam<const char*> {};

TEST_P(RedisGroundTruthTest, EveryClassWithinBoundAtEveryMarker) {
  const std::string path =
      std::string("testdata/redis/") + GetParam() + ".slabtrace";
  absl::StatusOr<std::unique_ptr<TraceReader>> reader = TraceReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  ReplayOptions options;
  options.set_by_class(true);
  Replayer replayer(**reader, options);
  absl::StatusOr<Report> report = replayer.Run();
  ASSERT_TRUE(report.ok()) << report.status();

  int markers_with_stats = 0;
  for (const Sweep& sweep : report->sweeps()) {
    if (!sweep.ground_truth().available()) continue;
    ++markers_with_stats;
    EXPECT_TRUE(sweep.ground_truth().all_within_bound()) << sweep.label();
    EXPECT_GT(sweep.ground_truth().classes_size(), 0) << sweep.label();
    for (const GroundTruthClass& c : sweep.ground_truth().classes()) {
      EXPECT_TRUE(c.within_bound())
          << sweep.label() << ": class " << c.size_class() << " slabs "
          << c.replay_slabs() << " vs " << c.jemalloc_curslabs() << ", regions "
          << c.replay_regions() << " vs " << c.jemalloc_curregs() << ", bound "
          << c.bound();
    }
  }
  EXPECT_GE(markers_with_stats, 2);
  EXPECT_EQ(report->validation().inconsistencies(), 0u);
  EXPECT_TRUE(report->trailer().agrees());
  // Consistent traces keep small objects in region arrays all the way (the
  // fast representation; slab_occupancy.h, "Two representations").
  EXPECT_TRUE(replayer.occupancy().uses_region_arrays());
}

INSTANTIATE_TEST_SUITE_P(Scenarios, RedisGroundTruthTest,
                         ::testing::Values("scatter-delete", "flushall",
                                           "expire", "mixed-sizes", "churn",
                                           "hashes"));

}  // namespace
}  // namespace slabtrace
