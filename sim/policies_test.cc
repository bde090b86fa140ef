// Every policy on hand-built streams whose answers are known.

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "proto/testing/test_header.h"
#include "sim/compare.h"
#include "sim/testing/vector_object_stream.h"

namespace slabtrace {
namespace {

const PolicyRow& Row(const ComparisonSweep& sweep, const std::string& policy) {
  for (const PolicyRow& row : sweep.rows()) {
    if (row.policy() == policy) return row;
  }
  ADD_FAILURE() << "no row for " << policy;
  static const PolicyRow* empty = new PolicyRow();
  return *empty;
}

const ComparisonSweep& SweepLabelled(const Comparison& comparison,
                                     const std::string& label) {
  for (const ComparisonSweep& sweep : comparison.sweeps()) {
    if (sweep.label() == label) return sweep;
  }
  ADD_FAILURE() << "no sweep " << label;
  static const ComparisonSweep* empty = new ComparisonSweep();
  return *empty;
}

Comparison RunAll(const StreamContents& contents, CompareOptions options = {}) {
  absl::StatusOr<Comparison> comparison =
      Compare(VectorStreamFactory(contents), options);
  EXPECT_TRUE(comparison.ok()) << comparison.status();
  return comparison.ok() ? *comparison : Comparison();
}

uint32_t ClassOf(uint64_t size) {
  return SlabGeometry::Create(JemallocTestHeader())->ClassForSize(size);
}

// 64 slabs of the 1280-byte class (16 regions each) filled in order, then
// every other object freed.
StreamContents ScatteredDelete() {
  StreamBuilder builder(JemallocTestHeader());
  const uint32_t c = ClassOf(1280);
  std::vector<uint64_t> ids;
  for (int i = 0; i < 64 * 16; ++i) ids.push_back(builder.Alloc(c));
  builder.Mark("filled");
  for (size_t i = 1; i < ids.size(); i += 2) builder.Free(ids[i]);
  builder.Mark("deleted");
  return builder.Finish();
}

TEST(PoliciesTest, ScatteredDelete) {
  const StreamContents contents = ScatteredDelete();
  const Comparison comparison = RunAll(contents);
  const ComparisonSweep& deleted = SweepLabelled(comparison, "deleted");
  ASSERT_EQ(deleted.rows_size(), 8);
  for (const std::string policy :
       {"recorded", "jemalloc", "first-fit", "best-fit"}) {
    const PolicyRow& row = Row(deleted, policy);
    EXPECT_EQ(row.dsr(), 0.0) << policy;
    EXPECT_EQ(row.pinned_slabs(), 64u) << policy;
    EXPECT_EQ(row.held_granules(), 64u) << policy;
  }
  // Nothing is ever freed while filling, so worst-fit also fills in order.
  EXPECT_EQ(Row(deleted, "worst-fit").dsr(), 0.0);

  const PolicyRow& oracle = Row(deleted, "oracle");
  EXPECT_GE(oracle.dsr(), 0.45);
  EXPECT_LT(oracle.pinned_slabs(), 40u);

  // One epoch of allocation: temporal is first-fit.
  PolicyRow temporal = Row(deleted, "temporal");
  PolicyRow first_fit = Row(deleted, "first-fit");
  temporal.clear_policy();
  first_fit.clear_policy();
  EXPECT_EQ(temporal.SerializeAsString(), first_fit.SerializeAsString());

  const PolicyRow& compact = Row(deleted, "compact");
  EXPECT_EQ(deleted.packing_bound_slabs(), 32u);
  EXPECT_EQ(compact.footprint_bytes() * 2,
            Row(deleted, "first-fit").footprint_bytes());
  EXPECT_EQ(compact.pinned_slabs(), 32u);
  EXPECT_DOUBLE_EQ(compact.dsr(), 0.5);
  // Even and odd regions do not overlap only between different slabs'
  // complements; here all survivors sit in even regions: nothing meshes.
  EXPECT_EQ(compact.meshed_slabs(), 64u);
  EXPECT_DOUBLE_EQ(Row(deleted, "best-fit").footprint_ratio(), 1.0);
  EXPECT_DOUBLE_EQ(compact.footprint_ratio(), 0.5);
}

TEST(PoliciesTest, MeshingPairsComplementarySlabs) {
  // Two slabs; free the odd regions of the first and the even ones of the
  // second: the survivors' regions are disjoint, so they mesh into one.
  StreamBuilder builder(JemallocTestHeader());
  const uint32_t c = ClassOf(1280);
  std::vector<uint64_t> ids;
  for (int i = 0; i < 32; ++i) ids.push_back(builder.Alloc(c));
  for (int i = 0; i < 16; ++i) {
    if (i % 2 == 1) builder.Free(ids[i]);
    if (i % 2 == 0) builder.Free(ids[16 + i]);
  }
  builder.Mark("half");
  const StreamContents contents = builder.Finish();
  CompareOptions options;
  options.policies = {"recorded", "compact"};
  const Comparison comparison = RunAll(contents, options);
  const ComparisonSweep& half = SweepLabelled(comparison, "half");
  EXPECT_EQ(Row(half, "recorded").pinned_slabs(), 2u);
  EXPECT_EQ(Row(half, "compact").meshed_slabs(), 1u);
  EXPECT_EQ(Row(half, "compact").pinned_slabs(), 1u);  // packing bound.
}

TEST(PoliciesTest, WholeSlabFreesDrainUnderEveryPolicy) {
  StreamBuilder builder(JemallocTestHeader());
  const uint32_t c = ClassOf(1280);
  std::vector<uint64_t> ids;
  for (int i = 0; i < 8 * 16; ++i) ids.push_back(builder.Alloc(c));
  builder.Mark("filled");
  for (int i = 0; i < 4 * 16; ++i) builder.Free(ids[i]);
  builder.Mark("freed");
  const StreamContents contents = builder.Finish();
  const Comparison comparison = RunAll(contents);
  const ComparisonSweep& freed = SweepLabelled(comparison, "freed");
  for (const PolicyRow& row : freed.rows()) {
    EXPECT_EQ(row.pinned_slabs(), 4u) << row.policy();
    EXPECT_GE(row.dsr(), 0.5) << row.policy();
    EXPECT_EQ(row.live_objects(), 64u) << row.policy();
  }
}

// Two epochs interleave allocation of long- and short-lived data; the
// short-lived epoch-2 data is then freed. Temporal keeps the epochs in
// separate slabs, so epoch 2's slabs drain; first-fit refills epoch 1's
// holes with epoch 2 data and drains less.
TEST(PoliciesTest, TemporalSeparatesEpochs) {
  StreamBuilder builder(JemallocTestHeader());
  const uint32_t c = ClassOf(1280);
  std::vector<uint64_t> first;
  for (int i = 0; i < 8 * 16; ++i) first.push_back(builder.Alloc(c));
  for (size_t i = 0; i < first.size(); i += 2) builder.Free(first[i]);
  builder.Mark("epoch-2");
  std::vector<uint64_t> second;
  for (int i = 0; i < 4 * 16; ++i) second.push_back(builder.Alloc(c));
  builder.Mark("second-allocated");
  for (uint64_t id : second) builder.Free(id);
  builder.Mark("second-freed");
  const StreamContents contents = builder.Finish();
  CompareOptions options;
  options.policies = {"first-fit", "temporal"};
  const Comparison comparison = RunAll(contents, options);
  const ComparisonSweep& allocated =
      SweepLabelled(comparison, "second-allocated");
  EXPECT_EQ(Row(allocated, "first-fit").pinned_slabs(), 8u);  // holes.
  EXPECT_EQ(Row(allocated, "temporal").pinned_slabs(), 12u);  // own slabs.
  const ComparisonSweep& freed = SweepLabelled(comparison, "second-freed");
  EXPECT_EQ(Row(freed, "first-fit").dsr(), 0.0);
  EXPECT_DOUBLE_EQ(Row(freed, "temporal").dsr(), 4.0 / 12.0);

  // With --epoch-ms instead of markers: everything here happens at time 0,
  // one epoch, so temporal equals first-fit.
  options.sim.epoch_ms = 1000;
  const Comparison by_time = RunAll(contents, options);
  EXPECT_EQ(Row(SweepLabelled(by_time, "second-allocated"), "temporal")
                .pinned_slabs(),
            8u);
}

TEST(PoliciesTest, OracleGroupsByDeathTime) {
  // Objects allocated alternately long- and short-lived: the oracle puts
  // the short-lived ones together, so their slabs drain.
  StreamBuilder builder(JemallocTestHeader());
  const uint32_t c = ClassOf(256);  // 16 regions per 4 KiB slab.
  std::vector<uint64_t> short_lived;
  for (int i = 0; i < 16 * 16; ++i) {
    const uint64_t id = builder.Alloc(c);
    if (i % 2 == 0) short_lived.push_back(id);
  }
  builder.Mark("allocated");
  for (uint64_t id : short_lived) builder.Free(id);
  builder.Mark("freed");
  const StreamContents contents = builder.Finish();
  CompareOptions options;
  options.policies = {"first-fit", "oracle"};
  const Comparison comparison = RunAll(contents, options);
  const ComparisonSweep& freed = SweepLabelled(comparison, "freed");
  EXPECT_EQ(Row(freed, "first-fit").pinned_slabs(), 16u);
  EXPECT_EQ(Row(freed, "oracle").pinned_slabs(), 8u);
  EXPECT_GE(Row(freed, "oracle").dsr(), 0.45);
}

TEST(PoliciesTest, RecordedFollowsTheTraceAndFlagsConflicts) {
  StreamBuilder builder(JemallocTestHeader());
  const uint32_t c = ClassOf(1280);
  const uint64_t slab_a = uint64_t{1} << 30, slab_b = uint64_t{2} << 30;
  builder.AllocAt(c, slab_a, 3);
  builder.AllocAt(c, slab_b, 0);
  builder.AllocAt(c, slab_a, 3);  // same region again: a bad trace.
  builder.Mark("placed");
  const StreamContents contents = builder.Finish();
  CompareOptions options;
  options.policies = {"recorded", "first-fit"};
  const Comparison comparison = RunAll(contents, options);
  const ComparisonSweep& placed = SweepLabelled(comparison, "placed");
  EXPECT_EQ(Row(placed, "recorded").pinned_slabs(), 2u);
  EXPECT_EQ(Row(placed, "recorded").placement_conflicts(), 1u);
  EXPECT_EQ(Row(placed, "first-fit").pinned_slabs(), 1u);
  EXPECT_EQ(Row(placed, "first-fit").placement_conflicts(), 0u);
  EXPECT_DOUBLE_EQ(Row(placed, "first-fit").footprint_ratio(), 0.5);
}

TEST(PoliciesTest, ResizeAcrossLargeClassesMovesTheGranule) {
  StreamBuilder builder(JemallocTestHeader());
  const uint32_t small = ClassOf(100000), big = ClassOf(400000);
  const uint64_t id = builder.Alloc(small);
  builder.Mark("before");
  builder.Resize(id, big);
  builder.Mark("after");
  const StreamContents contents = builder.Finish();
  const Comparison comparison = RunAll(contents);
  for (const PolicyRow& row : SweepLabelled(comparison, "after").rows()) {
    EXPECT_EQ(row.pinned_granules(), 1u) << row.policy();
    EXPECT_EQ(row.live_objects(), 1u) << row.policy();
    EXPECT_EQ(row.live_bytes(), JemallocTestHeader().size_classes(big).size())
        << row.policy();
    // One extent, never freed: nothing drained over the window. (compact's
    // DSR is measured against the packing bound instead.)
    if (row.policy() == "compact") continue;
    EXPECT_EQ(row.held_granules(), 1u) << row.policy();
    EXPECT_EQ(row.dsr(), 0.0) << row.policy();
  }
}

}  // namespace
}  // namespace slabtrace
