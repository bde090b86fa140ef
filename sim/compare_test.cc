// Properties that must hold on any stream, checked on random ones.

#include "sim/compare.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "proto/testing/test_header.h"
#include "sim/policy_registry.h"
#include "sim/simulated_allocator.h"
#include "sim/testing/random_object_stream.h"
#include "sim/testing/vector_object_stream.h"

namespace slabtrace {
namespace {

RandomStreamOptions SmallRandom(uint64_t seed) {
  RandomStreamOptions options;
  options.seed = seed;
  options.events = 30000;
  options.phase_events = 5000;
  options.max_live = 4000;
  options.threads = 3;
  options.large_share = 0.03;
  return options;
}

class ComparePropertyTest : public testing::TestWithParam<uint64_t> {};

TEST_P(ComparePropertyTest, BoundsConservationAndThreadIndependence) {
  const StreamFactory factory =
      RandomStreamFactory(JemallocTestHeader(), SmallRandom(GetParam()));
  CompareOptions options;
  options.sim.by_class = true;
  options.sim.every_events = 7000;
  options.threads = 1;
  absl::StatusOr<Comparison> one = Compare(factory, options);
  ASSERT_TRUE(one.ok()) << one.status();
  options.threads = 4;
  absl::StatusOr<Comparison> four = Compare(factory, options);
  ASSERT_TRUE(four.ok()) << four.status();
  EXPECT_EQ(one->SerializeAsString(), four->SerializeAsString());

  ASSERT_EQ(one->policies_size(), 8);
  // 6 phase markers, 4 interval sweeps, the end.
  EXPECT_EQ(one->sweeps_size(), 5 + 4 + 1);
  for (const ComparisonSweep& sweep : one->sweeps()) {
    const PolicyRow& recorded = sweep.rows(0);
    ASSERT_EQ(recorded.policy(), "recorded");
    EXPECT_EQ(recorded.placement_conflicts(), 0u);
    for (const PolicyRow& row : sweep.rows()) {
      EXPECT_EQ(row.live_objects(), recorded.live_objects()) << row.policy();
      EXPECT_EQ(row.live_bytes(), recorded.live_bytes()) << row.policy();
      EXPECT_GE(row.pinned_slabs(), sweep.packing_bound_slabs())
          << row.policy() << " at " << sweep.seq();
      EXPECT_GE(row.footprint_bytes(), sweep.packing_bound_bytes())
          << row.policy();
      EXPECT_GE(row.peak_footprint_bytes(), row.footprint_bytes());
      EXPECT_GE(row.dsr(), 0.0);
      EXPECT_LE(row.dsr(), 1.0);
      for (const ClassRow& c : row.classes()) {
        EXPECT_GE(c.pinned_granules(), c.packing_bound_granules())
            << row.policy() << " class " << c.size_class();
        EXPECT_LE(c.pinned_granules(), c.held_granules());
      }
    }
  }
  EXPECT_GT(one->sweeps(one->sweeps_size() - 1).rows(0).live_objects(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Seeds, ComparePropertyTest,
                         testing::Values(1, 2, 3, 4));

TEST(CompareTest, ThreadCacheModelConservesLiveObjects) {
  const StreamFactory factory =
      RandomStreamFactory(JemallocTestHeader(), SmallRandom(9));
  CompareOptions options;
  options.policies = {"recorded", "jemalloc"};
  options.sim.tcache = true;
  absl::StatusOr<Comparison> comparison = Compare(factory, options);
  ASSERT_TRUE(comparison.ok()) << comparison.status();
  uint64_t cached = 0;
  for (const ComparisonSweep& sweep : comparison->sweeps()) {
    EXPECT_EQ(sweep.rows(1).live_objects(), sweep.rows(0).live_objects());
    EXPECT_EQ(sweep.rows(0).cached_regions(), 0u);
    cached += sweep.rows(1).cached_regions();
  }
  EXPECT_GT(cached, 0u);
}

TEST(CompareTest, UnknownPolicyNamesTheValidOnes) {
  CompareOptions options;
  options.policies = {"recorded", "buddy"};
  absl::StatusOr<Comparison> comparison = Compare(
      RandomStreamFactory(JemallocTestHeader(), SmallRandom(1)), options);
  ASSERT_FALSE(comparison.ok());
  EXPECT_EQ(comparison.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(comparison.status().message(),
            "unknown policy 'buddy' (valid: recorded, jemalloc, first-fit, "
            "best-fit, worst-fit, temporal, oracle, compact)");
}

TEST(CompareTest, StreamErrorsNameThePolicyAndEvent) {
  StreamContents contents;
  contents.header = JemallocTestHeader();
  ObjectEvent free;
  free.kind = ObjectEvent::Kind::kFree;
  free.seq = 12;
  free.object_id = 3;
  contents.events.push_back(free);
  CompareOptions options;
  options.policies = {"first-fit"};
  absl::StatusOr<Comparison> comparison =
      Compare(VectorStreamFactory(contents), options);
  ASSERT_FALSE(comparison.ok());
  EXPECT_EQ(comparison.status().message(),
            "first-fit: event seq 12: free of object 3 that is not live");
}

// A stream whose recorded placement is exactly what the jemalloc model
// does: fidelity must be perfect. The same stream with first-fit's
// placement recorded instead is measurably off.
StreamContents WithPlacementOf(const std::string& policy,
                               const StreamContents& source) {
  StreamContents out = source;
  const SlabGeometry base = *SlabGeometry::Create(source.header);
  const SimGeometry geometry = *SimGeometry::Create(base, {});
  PolicyContext context;
  context.geometry = &geometry;
  context.header = &source.header;
  std::unique_ptr<PlacementPolicy> placement = *MakePolicy(policy, context);
  SimulatedAllocator allocator(geometry, placement.get());
  for (ObjectEvent& event : out.events) {
    EXPECT_TRUE(allocator.Apply(event).ok());
    SimulatedAllocator::Location location;
    if (event.kind != ObjectEvent::Kind::kFree &&
        event.kind != ObjectEvent::Kind::kMarker &&
        allocator.Locate(event.object_id, &location)) {
      event.recorded_slab = location.address;
      event.recorded_region = location.region;
    }
  }
  return out;
}

TEST(CompareTest, FidelityIsExactWhenTheTraceIsTheModel) {
  RandomStreamOptions random = SmallRandom(5);
  random.threads = 1;
  std::unique_ptr<RandomObjectStream> stream =
      *RandomObjectStream::Create(JemallocTestHeader(), random);
  const StreamContents source = *Materialize(*stream);
  CompareOptions options;
  options.policies = {"recorded", "jemalloc"};
  options.fidelity = true;

  const StreamContents modelled = WithPlacementOf("jemalloc", source);
  absl::StatusOr<Comparison> exact =
      Compare(VectorStreamFactory(modelled), options);
  ASSERT_TRUE(exact.ok()) << exact.status();
  ASSERT_GT(exact->fidelity().rows_size(), 0);
  EXPECT_EQ(exact->fidelity().max_abs_relative_difference(), 0.0);
  EXPECT_EQ(exact->fidelity().weighted_abs_relative_difference(), 0.0);

  const StreamContents other = WithPlacementOf("worst-fit", source);
  absl::StatusOr<Comparison> off = Compare(VectorStreamFactory(other), options);
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_GT(off->fidelity().weighted_abs_relative_difference(), 0.0);
}

TEST(CompareTest, FidelityNeedsRecordedAndJemalloc) {
  CompareOptions options;
  options.policies = {"first-fit"};
  options.fidelity = true;
  EXPECT_FALSE(
      Compare(RandomStreamFactory(JemallocTestHeader(), SmallRandom(1)),
              options)
          .ok());
}

}  // namespace
}  // namespace slabtrace
