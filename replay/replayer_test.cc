#include "replay/replayer.h"

#include <cstdint>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/testing/test_header.h"
#include "replay/internal/test_trace.h"

namespace slabtrace {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr uint64_t kHeap = 0x7f0000000000;

class ReplayerTest : public ::testing::Test {
 protected:
  ReplayerTest()
      : path_(TestPath(
            ::testing::UnitTest::GetInstance()->current_test_info()->name() +
            std::string(".slabtrace"))),
        trace_(path_),
        geometry_(trace_.geometry()),
        c1280_(geometry_.ClassForSize(1280)) {}

  // Slab `i` of the 1280-byte class; slabs are not adjacent.
  uint64_t Slab(int i) const {
    return kHeap + uint64_t(i) * geometry_.slab_size(c1280_) * 2;
  }
  uint64_t Region(int slab, int k) const {
    return Slab(slab) + uint64_t(k) * geometry_.region_size(c1280_);
  }
  void FillSlab(int slab) {
    for (uint32_t k = 0; k < geometry_.nregs(c1280_); ++k) {
      trace_.Alloc(Region(slab, k), c1280_, 1000);
    }
  }
  void FreeSlab(int slab) {
    for (uint32_t k = 0; k < geometry_.nregs(c1280_); ++k) {
      trace_.Free(Region(slab, k), c1280_);
    }
  }

  Report Replay(const ReplayOptions& options = {}) {
    absl::StatusOr<Report> report = ReplayFile(path_, options);
    EXPECT_TRUE(report.ok()) << report.status();
    return report.ok() ? *report : Report();
  }

  const ClassOccupancy* FindClass(const Sweep& sweep, uint32_t c) {
    for (const ClassOccupancy& row : sweep.classes()) {
      if (row.size_class() == c) return &row;
    }
    return nullptr;
  }

  const std::string path_;
  TestTrace trace_;
  const SlabGeometry& geometry_;
  const uint32_t c1280_;
};

TEST_F(ReplayerTest, FreeingEveryOtherObjectOfFourSlabs) {
  for (int s = 0; s < 4; ++s) FillSlab(s);
  trace_.Mark("filled");
  for (int s = 0; s < 4; ++s) {
    for (int k = 1; k < 16; k += 2) trace_.Free(Region(s, k), c1280_);
  }
  trace_.Mark("deleted");
  trace_.Close();

  ReplayOptions options;
  options.set_histogram(true);
  options.set_by_class(true);
  const Report report = Replay(options);
  ASSERT_EQ(report.sweeps_size(), 3);  // two markers and the end.
  const Sweep& filled = report.sweeps(0);
  EXPECT_EQ(filled.kind(), Sweep::MARKER);
  EXPECT_EQ(filled.label(), "filled");
  EXPECT_EQ(filled.event_index(), 64u);
  EXPECT_EQ(filled.total().pinned_slabs(), 4u);
  EXPECT_EQ(filled.total().stranded_bytes(), 0);

  const Sweep& deleted = report.sweeps(1);
  const uint64_t slab_size = geometry_.slab_size(c1280_);
  const Occupancy& t = deleted.total();
  EXPECT_EQ(deleted.label(), "deleted");
  EXPECT_EQ(deleted.event_index(), 96u);
  EXPECT_EQ(t.live_objects(), 32u);
  EXPECT_EQ(t.live_bytes(), 32u * 1280);
  EXPECT_EQ(t.requested_bytes(), 32u * 1000);
  EXPECT_EQ(t.pinned_slabs(), 4u);
  EXPECT_EQ(t.footprint_bytes(), 4 * slab_size);
  EXPECT_EQ(t.stranded_bytes(), static_cast<int64_t>(t.footprint_bytes() / 2));
  EXPECT_EQ(t.packing_bound_bytes(), 2 * slab_size);
  EXPECT_EQ(t.dsr_since_marker().held(), 4u);
  EXPECT_EQ(t.dsr_since_marker().drained(), 0u);
  EXPECT_TRUE(t.dsr_since_marker().defined());
  EXPECT_EQ(t.dsr_since_marker().dsr(), 0.0);
  EXPECT_EQ(t.dsr_since_marker().start_event_index(), 64u);
  EXPECT_THAT(t.histogram(), ElementsAre(0, 0, 0, 0, 0, 4, 0, 0, 0, 0));
  ASSERT_EQ(deleted.classes_size(), 1);
  EXPECT_EQ(deleted.classes(0).size_class(), c1280_);
  EXPECT_EQ(deleted.classes(0).nregs(), 16u);
  EXPECT_EQ(deleted.classes(0).occupancy().stranded_bytes(),
            t.stranded_bytes());

  EXPECT_EQ(report.sweeps(2).kind(), Sweep::END);
  EXPECT_EQ(report.sweeps(2).label(), "end");
  EXPECT_TRUE(report.trailer().agrees());
  EXPECT_EQ(report.trace().file(),
            "FreeingEveryOtherObjectOfFourSlabs.slabtrace");
}

TEST_F(ReplayerTest, FreeingWholeSlabsDrainsThatShare) {
  for (int s = 0; s < 4; ++s) FillSlab(s);
  trace_.Mark("filled");
  FreeSlab(0);
  FreeSlab(2);
  FreeSlab(3);
  trace_.Mark("deleted");
  trace_.Close();

  const Report report = Replay();
  const Occupancy& t = report.sweeps(1).total();
  EXPECT_EQ(t.pinned_slabs(), 1u);
  EXPECT_EQ(t.dsr_since_marker().held(), 4u);
  EXPECT_EQ(t.dsr_since_marker().drained(), 3u);
  EXPECT_DOUBLE_EQ(t.dsr_since_marker().dsr(), 3.0 / 4.0);
  EXPECT_EQ(t.stranded_bytes(), 0);
  // Without --by-class or --histogram, neither is filled.
  EXPECT_EQ(report.sweeps(1).classes_size(), 0);
  EXPECT_EQ(t.histogram_size(), 0);
}

TEST(ReplayerLargePadTest, LargeExtentsCountTheCacheObliviousPage) {
  TraceHeader header = JemallocTestHeader();
  header.set_large_extent_pad(header.page_size());
  const std::string path = TestPath("large_pad.slabtrace");
  TestTrace trace(path, header);
  const uint32_t large = trace.geometry().ClassForSize(20000);
  const uint64_t class_size = trace.geometry().region_size(large);
  trace.Alloc(kHeap + 0x40, large, 20000);
  trace.Mark("one");
  trace.Close();
  absl::StatusOr<Report> report = ReplayFile(path, {});
  ASSERT_TRUE(report.ok()) << report.status();
  const Occupancy& one = report->sweeps(0).total();
  EXPECT_EQ(one.pinned_extents(), 1u);
  // 20480-byte class, already whole pages, plus jemalloc's extra page.
  EXPECT_EQ(one.footprint_bytes(), class_size + header.page_size());
  EXPECT_EQ(one.stranded_bytes(), static_cast<int64_t>(header.page_size()));
}

TEST_F(ReplayerTest, LargeAllocationsAreTheirOwnPageRoundedGranules) {
  const uint32_t large = geometry_.ClassForSize(20000);
  ASSERT_FALSE(geometry_.is_small(large));
  const uint64_t class_size = geometry_.region_size(large);
  const uint64_t page = geometry_.page_size();
  const uint64_t rounded = (class_size + page - 1) / page * page;
  trace_.Alloc(kHeap + 0x40, large, 20000);  // offset within its first page
  trace_.Alloc(kHeap + 0x100000, large, 20000);
  trace_.Mark("two");
  trace_.Free(kHeap + 0x40, large);
  trace_.Mark("one");
  trace_.Close();

  ReplayOptions options;
  options.set_by_class(true);
  options.set_histogram(true);
  const Report report = Replay(options);
  const Occupancy& two = report.sweeps(0).total();
  EXPECT_EQ(two.pinned_extents(), 2u);
  EXPECT_EQ(two.pinned_slabs(), 0u);
  EXPECT_EQ(two.footprint_bytes(), 2 * rounded);
  EXPECT_EQ(two.live_bytes(), 2 * class_size);
  EXPECT_EQ(two.requested_bytes(), 40000u);
  EXPECT_EQ(two.packing_bound_bytes(), 2 * rounded);
  EXPECT_THAT(two.histogram(), ElementsAre(0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
  ASSERT_EQ(report.sweeps(0).classes_size(), 1);
  EXPECT_EQ(report.sweeps(0).classes(0).nregs(), 0u);
  EXPECT_EQ(report.sweeps(0).classes(0).granule_bytes(), rounded);
  const Occupancy& one = report.sweeps(1).total();
  EXPECT_EQ(one.pinned_extents(), 1u);
  EXPECT_EQ(one.dsr_since_marker().held(), 2u);
  EXPECT_EQ(one.dsr_since_marker().drained(), 1u);
}

TEST_F(ReplayerTest, MovingReallocAcrossSizeClasses) {
  const uint32_t small = geometry_.ClassForSize(100);
  const uint32_t bigger = geometry_.ClassForSize(2000);
  const uint64_t old_ptr = kHeap;
  const uint64_t new_ptr = kHeap + 0x100000;
  trace_.Alloc(old_ptr, small, 100);
  trace_.Mark("before");
  // A moving realloc is the alloc of the new block, then the free of the old.
  trace_.Alloc(new_ptr, bigger, 2000);
  trace_.Free(old_ptr, small);
  trace_.Mark("after");
  trace_.Close();

  ReplayOptions options;
  options.set_by_class(true);
  const Report report = Replay(options);
  const Sweep& after = report.sweeps(1);
  EXPECT_EQ(after.total().live_objects(), 1u);
  EXPECT_EQ(after.total().live_bytes(), geometry_.region_size(bigger));
  EXPECT_EQ(after.total().dsr_since_marker().held(), 2u);
  EXPECT_EQ(after.total().dsr_since_marker().drained(), 1u);
  const ClassOccupancy* from = FindClass(after, small);
  const ClassOccupancy* to = FindClass(after, bigger);
  ASSERT_NE(from, nullptr);  // drained in the window, so still reported.
  ASSERT_NE(to, nullptr);
  EXPECT_EQ(from->occupancy().live_objects(), 0u);
  EXPECT_EQ(from->occupancy().dsr_since_marker().dsr(), 1.0);
  EXPECT_EQ(to->occupancy().live_objects(), 1u);
  EXPECT_EQ(to->occupancy().dsr_since_marker().drained(), 0u);
}

TEST_F(ReplayerTest, InPlaceResizeOfALargeExtent) {
  const uint32_t from = geometry_.ClassForSize(20000);
  const uint32_t to = geometry_.ClassForSize(40000);
  trace_.Alloc(kHeap, from, 20000);
  trace_.Resize(kHeap, to, 40000);
  trace_.Close();
  const Report report = Replay();
  const Occupancy& end = report.sweeps(0).total();
  EXPECT_EQ(end.live_objects(), 1u);
  EXPECT_EQ(end.pinned_extents(), 1u);
  EXPECT_EQ(end.live_bytes(), geometry_.region_size(to));
  EXPECT_EQ(end.requested_bytes(), 40000u);
  EXPECT_EQ(end.dsr_since_sweep().held(), 1u);
  EXPECT_EQ(end.dsr_since_sweep().drained(), 0u);
}

TEST_F(ReplayerTest, UnknownFreesAreCountedNotFatal) {
  trace_.Free(kHeap, c1280_);
  trace_.Free(kHeap + 1280, c1280_);
  trace_.Alloc(Region(0, 0), c1280_);
  trace_.Close();
  const Report report = Replay();
  EXPECT_EQ(report.validation().unknown_frees(), 2u);
  EXPECT_EQ(report.validation().inconsistencies(), 0u);
  EXPECT_EQ(report.validation().events(), 3u);
  EXPECT_EQ(report.sweeps(0).total().live_objects(), 1u);
}

TEST_F(ReplayerTest, InconsistenciesCarryTheirEventIndex) {
  trace_.Alloc(Region(0, 0), c1280_);      // 0
  trace_.Free(Region(0, 0), c1280_);       // 1
  trace_.Free(Region(0, 0), c1280_);       // 2: double free
  trace_.Alloc(Region(0, 1), c1280_);      // 3
  trace_.Alloc(Region(0, 1), c1280_);      // 4: alloc at a live address
  trace_.Alloc(Region(0, 2) + 8, c1280_);  // 5: not a region start: no slab
  trace_.Close();
  const Report report = Replay();
  const Validation& v = report.validation();
  EXPECT_EQ(v.inconsistencies(), 3u);
  ASSERT_EQ(v.first_size(), 3);
  EXPECT_EQ(v.first(0).kind(), Inconsistency::DOUBLE_FREE);
  EXPECT_EQ(v.first(0).event_index(), 2u);
  EXPECT_EQ(v.first(1).kind(), Inconsistency::ALLOC_AT_LIVE_ADDRESS);
  EXPECT_EQ(v.first(1).event_index(), 4u);
  EXPECT_EQ(v.first(2).kind(), Inconsistency::NO_GRANULE);
  EXPECT_EQ(v.first(2).event_index(), 5u);
  EXPECT_EQ(report.sweeps(0).total().live_objects(), 1u);
}

TEST_F(ReplayerTest, EveryNEventsSweeps) {
  for (int k = 0; k < 16; ++k) trace_.Alloc(Region(0, k), c1280_);
  for (int k = 0; k < 9; ++k) trace_.Free(Region(0, k), c1280_);
  trace_.Close();  // 25 events
  ReplayOptions options;
  options.set_every_events(10);
  const Report report = Replay(options);
  ASSERT_EQ(report.sweeps_size(), 3);
  EXPECT_EQ(report.sweeps(0).kind(), Sweep::INTERVAL);
  EXPECT_EQ(report.sweeps(0).event_index(), 10u);
  EXPECT_EQ(report.sweeps(0).seq(), 10u);
  EXPECT_EQ(report.sweeps(0).total().live_objects(), 10u);
  EXPECT_EQ(report.sweeps(1).event_index(), 20u);
  EXPECT_EQ(report.sweeps(1).total().live_objects(), 16u - 4);
  EXPECT_EQ(report.sweeps(2).kind(), Sweep::END);
  EXPECT_EQ(report.sweeps(2).event_index(), 25u);
  EXPECT_EQ(report.sweeps(2).total().live_objects(), 16u - 9);
}

TEST_F(ReplayerTest, IntervalSweepsFollowTraceTime) {
  constexpr uint64_t kMs = 1000 * 1000;
  trace_.set_time_step_ns(0);
  trace_.SetTime(0);
  trace_.Alloc(Region(0, 0), c1280_);
  trace_.SetTime(kMs / 2);
  trace_.Alloc(Region(0, 1), c1280_);
  trace_.SetTime(kMs);  // crosses 1 ms
  trace_.Alloc(Region(0, 2), c1280_);
  trace_.SetTime(5 * kMs + 7000);  // skips 2..4 ms: one sweep, at 5 ms
  trace_.Alloc(Region(0, 3), c1280_);
  trace_.Close();
  ReplayOptions options;
  options.set_interval_ms(1);
  const Report report = Replay(options);
  ASSERT_EQ(report.sweeps_size(), 3);
  EXPECT_EQ(report.sweeps(0).time_ns(), kMs);
  EXPECT_EQ(report.sweeps(0).event_index(), 2u);
  EXPECT_EQ(report.sweeps(1).time_ns(), 5 * kMs);
  EXPECT_EQ(report.sweeps(1).event_index(), 3u);
  EXPECT_EQ(report.sweeps(2).kind(), Sweep::END);
  EXPECT_EQ(report.sweeps(2).time_ns(), 5 * kMs + 7000);
}

TEST_F(ReplayerTest, SinceMarkerAndSinceSweepWindowsDiffer) {
  FillSlab(0);
  FillSlab(1);
  trace_.Mark("start");  // event index 32
  FreeSlab(0);           // 32..47
  FillSlab(2);           // 48..63
  FreeSlab(1);           // 64..79
  trace_.Close();
  ReplayOptions options;
  options.set_every_events(48);
  const Report report = Replay(options);
  ASSERT_EQ(report.sweeps_size(), 3);
  const Sweep& interval = report.sweeps(1);
  EXPECT_EQ(interval.event_index(), 48u);
  EXPECT_EQ(interval.total().dsr_since_sweep().held(), 2u);
  EXPECT_EQ(interval.total().dsr_since_sweep().drained(), 1u);
  const Sweep& end = report.sweeps(2);
  // Since the interval sweep: slabs 1 and 2 held, slab 1 drained.
  EXPECT_EQ(end.total().dsr_since_sweep().held(), 2u);
  EXPECT_EQ(end.total().dsr_since_sweep().drained(), 1u);
  EXPECT_EQ(end.total().dsr_since_sweep().start_event_index(), 48u);
  // Since the marker: slabs 0, 1, 2 held, 0 and 1 drained.
  EXPECT_EQ(end.total().dsr_since_marker().held(), 3u);
  EXPECT_EQ(end.total().dsr_since_marker().drained(), 2u);
  EXPECT_EQ(end.total().dsr_since_marker().start_event_index(), 32u);
}

TEST_F(ReplayerTest, EmptyWindowHasUndefinedDsr) {
  trace_.Mark("empty");
  trace_.Close();
  const Report report = Replay();
  const DsrWindow& w = report.sweeps(0).total().dsr_since_marker();
  EXPECT_EQ(w.held(), 0u);
  EXPECT_FALSE(w.defined());
  EXPECT_EQ(w.dsr(), 0.0);
}

TEST_F(ReplayerTest, GroundTruthWithinAndOutsideTheThreadCacheBound) {
  const uint32_t c64 = geometry_.ClassForSize(64);
  FillSlab(0);
  FillSlab(1);
  for (int k = 0; k < 10; ++k) trace_.Alloc(kHeap + 0x200000 + 64 * k, c64);
  AllocatorStats stats;
  stats.set_threads(2);
  BinStats* b1280 = stats.add_bins();
  b1280->set_size_class(c1280_);
  b1280->set_curslabs(3);  // one more slab than the replay...
  b1280->set_curregs(40);  // ...and 8 regions parked in thread caches.
  BinStats* b64 = stats.add_bins();
  b64->set_size_class(c64);
  b64->set_curslabs(1);
  const uint64_t bound64 = trace_.header().tcache_ncached_max(c64) * 2;
  b64->set_curregs(10 + bound64 + 1);  // one more than caches could hold
  trace_.MarkWithStats("stats", stats);
  trace_.Mark("no stats");
  trace_.Close();

  const Report report = Replay();
  const GroundTruth& truth = report.sweeps(0).ground_truth();
  ASSERT_TRUE(truth.available());
  EXPECT_EQ(truth.threads(), 2u);
  ASSERT_EQ(truth.classes_size(), 2);
  const GroundTruthClass& small = truth.classes(0);  // by class index
  EXPECT_EQ(small.size_class(), c64);
  EXPECT_EQ(small.replay_regions(), 10u);
  EXPECT_EQ(small.replay_slabs(), 1u);
  EXPECT_EQ(small.regions_diff(), static_cast<int64_t>(bound64 + 1));
  EXPECT_EQ(small.bound(), bound64);
  EXPECT_FALSE(small.within_bound());
  const GroundTruthClass& mid = truth.classes(1);
  EXPECT_EQ(mid.size_class(), c1280_);
  EXPECT_EQ(mid.replay_slabs(), 2u);
  EXPECT_EQ(mid.replay_regions(), 32u);
  EXPECT_EQ(mid.slabs_diff(), 1);
  EXPECT_EQ(mid.regions_diff(), 8);
  EXPECT_EQ(mid.bound(), trace_.header().tcache_ncached_max(c1280_) * 2u);
  EXPECT_TRUE(mid.within_bound());
  EXPECT_EQ(truth.classes_outside_bound(), 1u);
  EXPECT_FALSE(truth.all_within_bound());
  EXPECT_FALSE(report.sweeps(1).ground_truth().available());
}

TEST_F(ReplayerTest, GroundTruthAllWithinBound) {
  FillSlab(0);
  AllocatorStats stats;
  stats.set_threads(1);
  BinStats* bin = stats.add_bins();
  bin->set_size_class(c1280_);
  bin->set_curslabs(1);
  bin->set_curregs(16);
  trace_.MarkWithStats("exact", stats);
  trace_.Close();
  const Report report = Replay();
  const GroundTruth& truth = report.sweeps(0).ground_truth();
  EXPECT_TRUE(truth.all_within_bound());
  ASSERT_EQ(truth.classes_size(), 1);
  EXPECT_EQ(truth.classes(0).regions_diff(), 0);
}

// The per-kind counts the trailer is reconciled with, over more events
// than one run of the reader, all three kinds mixed.
TEST_F(ReplayerTest, EventCountsByKindAgreeWithTheTrailer) {
  const uint32_t c64 = geometry_.ClassForSize(64);
  for (int round = 0; round < 300; ++round) {
    const uint64_t base = kHeap + 0x400000 + 0x1000 * uint64_t(round % 7);
    for (int k = 0; k < 5; ++k) trace_.Alloc(base + 64 * k, c64, 48);
    trace_.Resize(base, c64, 60);
    for (int k = 0; k < 5; ++k) trace_.Free(base + 64 * k, c64);
  }
  trace_.Close();
  const Report report = Replay();
  EXPECT_TRUE(report.trailer().agrees());
  EXPECT_THAT(report.trailer().disagreements(), ::testing::IsEmpty());
  EXPECT_EQ(report.validation().events(), 300u * 11);
  EXPECT_EQ(report.validation().unknown_frees(), 0u);
  EXPECT_EQ(report.sweeps(0).total().live_objects(), 0u);
}

// Without a thread count in the marker's statistics, the bound takes the
// threads seen so far: the largest thread number + 1.
TEST_F(ReplayerTest, GroundTruthBoundUsesTheThreadsSeenSoFar) {
  trace_.Alloc(Region(0, 0), c1280_, 1000, /*thread=*/0);
  trace_.Alloc(Region(0, 1), c1280_, 1000, /*thread=*/3);
  trace_.Alloc(Region(0, 2), c1280_, 1000, /*thread=*/1);
  AllocatorStats stats;  // threads unset
  BinStats* bin = stats.add_bins();
  bin->set_size_class(c1280_);
  bin->set_curslabs(1);
  bin->set_curregs(3);
  trace_.MarkWithStats("first", stats);
  trace_.Alloc(Region(0, 3), c1280_, 1000, /*thread=*/6);
  bin->set_curregs(4);
  trace_.MarkWithStats("second", stats);
  trace_.Close();
  const Report report = Replay();
  const uint64_t ncached = trace_.header().tcache_ncached_max(c1280_);
  ASSERT_TRUE(report.sweeps(0).ground_truth().available());
  EXPECT_EQ(report.sweeps(0).ground_truth().threads(), 4u);
  ASSERT_EQ(report.sweeps(0).ground_truth().classes_size(), 1);
  EXPECT_EQ(report.sweeps(0).ground_truth().classes(0).bound(), ncached * 4);
  EXPECT_EQ(report.sweeps(1).ground_truth().threads(), 7u);
}

TEST_F(ReplayerTest, MissingTrailerIsReported) {
  FillSlab(0);
  trace_.Abandon();
  const Report report = Replay();
  EXPECT_FALSE(report.trailer().has_trailer());
  EXPECT_FALSE(report.trailer().agrees());
  // The reader's warning names the file by its base name only.
  ASSERT_GE(report.trailer().reader_warnings_size(), 1);
  EXPECT_THAT(report.trailer().reader_warnings(0),
              HasSubstr("MissingTrailerIsReported.slabtrace"));
  EXPECT_THAT(report.trailer().reader_warnings(0),
              ::testing::Not(HasSubstr(path_)));
  EXPECT_EQ(report.validation().events(), 16u);
  EXPECT_EQ(report.sweeps(0).total().live_objects(), 16u);
}

TEST_F(ReplayerTest, SameTraceReplaysToIdenticalBytes) {
  for (int s = 0; s < 6; ++s) FillSlab(s);
  trace_.Mark("filled");
  for (int s = 0; s < 6; ++s) {
    for (int k = s % 3; k < 16; k += 3) trace_.Free(Region(s, k), c1280_);
  }
  trace_.Close();
  ReplayOptions options;
  options.set_by_class(true);
  options.set_histogram(true);
  options.set_every_events(17);
  std::string first, second;
  ASSERT_TRUE(Replay(options).SerializeToString(&first));
  ASSERT_TRUE(Replay(options).SerializeToString(&second));
  EXPECT_EQ(first, second);
  EXPECT_GT(first.size(), 100u);
}

TEST_F(ReplayerTest, LiveTableStartsAtTheTrailersPeakOfLiveObjects) {
  // 125 slabs of 16: 2,000 objects live at the peak, then half freed.
  for (int s = 0; s < 125; ++s) FillSlab(s);
  for (int s = 0; s < 125; s += 2) {
    for (int k = 0; k < 16; ++k) trace_.Free(Region(s, k), c1280_);
  }
  trace_.Close();
  auto reader = TraceReader::Open(path_);
  ASSERT_TRUE(reader.ok());
  ASSERT_TRUE((*reader)->early_trailer().has_value());
  EXPECT_EQ((*reader)->early_trailer()->max_live_objects(), 2000u);
  Replayer replayer(**reader, ReplayOptions());
  // The reservation is for 2,000; the small objects go to region arrays,
  // so the table is not allocated at that size (SlabOccupancyReserveTest:
  // it is when the objects move to it), and never grew.
  EXPECT_EQ(replayer.occupancy().reserved_live_objects(), 2000u);
  const size_t capacity = replayer.occupancy().live_table_capacity();
  EXPECT_LE(capacity, 16u);
  absl::StatusOr<Report> report = replayer.Run();
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(replayer.occupancy().uses_region_arrays());
  EXPECT_EQ(replayer.occupancy().live_table_capacity(), capacity);
  EXPECT_TRUE(report->trailer().agrees());
}

TEST(ReplayerReserveTest, TheHintIsBoundedByAllocsAndAFixedMaximum) {
  TraceTrailer trailer;
  EXPECT_EQ(Replayer::LiveObjectsToReserve(trailer), 0u);  // older traces.
  (*trailer.mutable_events_by_kind())["alloc"] = 5000;
  trailer.set_max_live_objects(1200);
  EXPECT_EQ(Replayer::LiveObjectsToReserve(trailer), 1200u);
  // A damaged trailer: more live than allocated, or a huge value.
  trailer.set_max_live_objects(7000);
  EXPECT_EQ(Replayer::LiveObjectsToReserve(trailer), 5000u);
  (*trailer.mutable_events_by_kind())["alloc"] = uint64_t{1} << 50;
  trailer.set_max_live_objects(uint64_t{1} << 40);
  EXPECT_EQ(Replayer::LiveObjectsToReserve(trailer),
            Replayer::kMaxReservedLiveObjects);
  trailer.clear_events_by_kind();
  EXPECT_EQ(Replayer::LiveObjectsToReserve(trailer), 0u);
}

TEST_F(ReplayerTest, WithoutATrailerTheLiveTableGrowsFromEmpty) {
  for (int s = 0; s < 125; ++s) FillSlab(s);
  trace_.Abandon();
  auto reader = TraceReader::Open(path_);
  ASSERT_TRUE(reader.ok());
  EXPECT_FALSE((*reader)->early_trailer().has_value());
  Replayer replayer(**reader, ReplayOptions());
  EXPECT_LE(replayer.occupancy().live_table_capacity(), 16u);
  absl::StatusOr<Report> report = replayer.Run();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->sweeps(0).total().live_objects(), 2000u);
}

}  // namespace
}  // namespace slabtrace
