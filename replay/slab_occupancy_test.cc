#include "replay/slab_occupancy.h"

#include <cstdint>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/testing/test_header.h"

namespace slabtrace {
namespace {

using ::testing::ElementsAre;

// Builds events the way TraceReader hands them out: dense seqs and the
// granule filled in from the geometry.
class Events {
 public:
  explicit Events(const SlabGeometry& geometry) : geometry_(geometry) {}

  Event Alloc(uint64_t ptr, uint32_t size_class, uint64_t size = 0) {
    return Make(EventKind::kAlloc, ptr, size_class,
                size ? size : geometry_.region_size(size_class));
  }
  Event Free(uint64_t ptr, uint32_t size_class) {
    return Make(EventKind::kFree, ptr, size_class, 0);
  }
  Event Resize(uint64_t ptr, uint32_t size_class, uint64_t size) {
    return Make(EventKind::kResize, ptr, size_class, size);
  }

 private:
  Event Make(EventKind kind, uint64_t ptr, uint32_t size_class, uint64_t size) {
    Event e;
    e.seq = next_seq_++;
    e.time_ns = e.seq * 10;
    e.kind = kind;
    e.ptr = ptr;
    e.size = size;
    e.size_class = size_class;
    e.slab = geometry_.GranuleOf(ptr, size_class);
    return e;
  }
  const SlabGeometry& geometry_;
  uint64_t next_seq_ = 0;
};

class SlabOccupancyTest : public ::testing::Test {
 protected:
  SlabOccupancyTest()
      : geometry_(*SlabGeometry::Create(JemallocTestHeader())),
        occupancy_(geometry_),
        events_(geometry_),
        c1280_(geometry_.ClassForSize(1280)) {}

  void Apply(const Event& e) { occupancy_.Apply(e, index_++); }

  // Slab `i` of the 1280-byte class (16 regions in 5 pages).
  uint64_t Slab(int i) const {
    return 0x7f0000000000 + uint64_t(i) * geometry_.slab_size(c1280_) * 3;
  }
  uint64_t Region(int slab, int k) const {
    return Slab(slab) + uint64_t(k) * 1280;
  }
  void FillSlab(int slab) {
    for (uint32_t k = 0; k < geometry_.nregs(c1280_); ++k) {
      Apply(events_.Alloc(Region(slab, k), c1280_));
    }
  }
  void FreeSlab(int slab) {
    for (uint32_t k = 0; k < geometry_.nregs(c1280_); ++k) {
      Apply(events_.Free(Region(slab, k), c1280_));
    }
  }

  SlabGeometry geometry_;
  SlabOccupancy occupancy_;
  Events events_;
  const uint32_t c1280_;
  uint64_t index_ = 0;
};

TEST_F(SlabOccupancyTest, GeometryIsTheOneTheTestAssumes) {
  ASSERT_EQ(geometry_.region_size(c1280_), 1280u);
  ASSERT_EQ(geometry_.nregs(c1280_), 16u);
  EXPECT_EQ(geometry_.GranuleOf(Region(2, 15), c1280_), Slab(2));
}

TEST_F(SlabOccupancyTest, FreeingEveryOtherObjectDrainsNothing) {
  for (int s = 0; s < 4; ++s) FillSlab(s);
  occupancy_.Sweep(WindowReset::kSweepAndMarker);
  for (int s = 0; s < 4; ++s) {
    for (int k = 1; k < 16; k += 2) Apply(events_.Free(Region(s, k), c1280_));
  }
  const ClassCounts c = occupancy_.Sweep(WindowReset::kSweepAndMarker)[c1280_];
  EXPECT_EQ(c.live_objects, 4u * 8);
  EXPECT_EQ(c.requested_bytes, 4u * 8 * 1280);
  EXPECT_EQ(c.pinned, 4u);
  EXPECT_EQ(c.held_since_marker, 4u);  // drained = 4 - 4 = 0.
  EXPECT_EQ(c.held_since_sweep, 4u);
  // 8 of 16 = 0.5: bucket 5.
  EXPECT_THAT(c.histogram, ElementsAre(0, 0, 0, 0, 0, 4, 0, 0, 0, 0));
}

TEST_F(SlabOccupancyTest, FreeingWholeSlabsDrainsThem) {
  for (int s = 0; s < 4; ++s) FillSlab(s);
  occupancy_.Sweep(WindowReset::kSweepAndMarker);
  FreeSlab(1);
  FreeSlab(3);
  const ClassCounts c = occupancy_.Sweep(WindowReset::kSweepAndMarker)[c1280_];
  EXPECT_EQ(c.pinned, 2u);
  EXPECT_EQ(c.held_since_marker, 4u);  // drained 2 of 4.
  // Full slabs land in the last bucket.
  EXPECT_THAT(c.histogram, ElementsAre(0, 0, 0, 0, 0, 0, 0, 0, 0, 2));
  // Drained granules are forgotten once the marker window closes.
  EXPECT_EQ(occupancy_.tracked_granules(), 2u);
}

TEST_F(SlabOccupancyTest, SweepAndMarkerWindowsDiffer) {
  FillSlab(0);
  FillSlab(1);
  occupancy_.Sweep(WindowReset::kSweepAndMarker);
  FreeSlab(0);
  ClassCounts c = occupancy_.Sweep(WindowReset::kSweepOnly)[c1280_];
  EXPECT_EQ(c.pinned, 1u);
  EXPECT_EQ(c.held_since_sweep, 2u);
  EXPECT_EQ(c.held_since_marker, 2u);
  FillSlab(2);
  FreeSlab(1);
  c = occupancy_.Sweep(WindowReset::kSweepOnly)[c1280_];
  EXPECT_EQ(c.pinned, 1u);             // slab 2.
  EXPECT_EQ(c.held_since_sweep, 2u);   // slabs 1, 2: drained 1.
  EXPECT_EQ(c.held_since_marker, 3u);  // slabs 0, 1, 2: drained 2.
}

TEST_F(SlabOccupancyTest, RepinnedGranuleCountsOnceInItsWindow) {
  FillSlab(0);
  occupancy_.Sweep(WindowReset::kSweepAndMarker);
  FreeSlab(0);
  occupancy_.Sweep(WindowReset::kSweepOnly);
  // Still tracked: the marker window saw it held.
  EXPECT_EQ(occupancy_.tracked_granules(), 1u);
  Apply(events_.Alloc(Region(0, 3), c1280_));
  Apply(events_.Free(Region(0, 3), c1280_));
  Apply(events_.Alloc(Region(0, 4), c1280_));
  const ClassCounts c = occupancy_.Sweep(WindowReset::kSweepOnly)[c1280_];
  EXPECT_EQ(c.pinned, 1u);
  EXPECT_EQ(c.held_since_marker, 1u);
  EXPECT_EQ(c.held_since_sweep, 1u);
}

TEST_F(SlabOccupancyTest, LargeAllocationIsItsOwnGranule) {
  const uint32_t large = geometry_.ClassForSize(20000);
  ASSERT_FALSE(geometry_.is_small(large));
  // jemalloc offsets large pointers within their first page.
  Apply(events_.Alloc(0x7f1000000040, large, 20000));
  Apply(events_.Alloc(0x7f1000100000, large, 20000));
  ClassCounts c = occupancy_.Sweep(WindowReset::kSweepAndMarker)[large];
  EXPECT_EQ(c.live_objects, 2u);
  EXPECT_EQ(c.requested_bytes, 40000u);
  EXPECT_EQ(c.pinned, 2u);
  EXPECT_THAT(c.histogram, ElementsAre(0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
  Apply(events_.Free(0x7f1000000040, large));
  c = occupancy_.Sweep(WindowReset::kSweepAndMarker)[large];
  EXPECT_EQ(c.pinned, 1u);
  EXPECT_EQ(c.held_since_marker, 2u);
}

TEST_F(SlabOccupancyTest, RequestedBytesAreExactForFarBelowClassSize) {
  // A 1 MiB + 1 request lands in a class far above it: the slack does not
  // fit the packed value and is kept aside, exactly.
  const uint64_t size = (uint64_t{1} << 20) + 1;
  const uint32_t large = geometry_.ClassForSize(size);
  ASSERT_GT(geometry_.region_size(large) - size, 0xFFFFu);
  Apply(events_.Alloc(0x7f2000000000, large, size));
  Apply(events_.Alloc(0x7f3000000000, large, size + 5));
  EXPECT_EQ(occupancy_.class_counts(large).requested_bytes, 2 * size + 5);
  Apply(events_.Resize(0x7f2000000000, large, size + 100));
  EXPECT_EQ(occupancy_.class_counts(large).requested_bytes, 2 * size + 105);
  Apply(events_.Free(0x7f3000000000, large));
  Apply(events_.Free(0x7f2000000000, large));
  EXPECT_EQ(occupancy_.class_counts(large).requested_bytes, 0u);
  EXPECT_EQ(occupancy_.class_counts(large).live_objects, 0u);
}

TEST_F(SlabOccupancyTest, InPlaceResizeMovesALargeExtentToItsNewClass) {
  const uint32_t from = geometry_.ClassForSize(20000);
  const uint32_t to = geometry_.ClassForSize(30000);
  ASSERT_NE(from, to);
  Apply(events_.Alloc(0x7f1000000000, from, 20000));
  occupancy_.Sweep(WindowReset::kSweepAndMarker);
  Apply(events_.Resize(0x7f1000000000, to, 30000));
  const std::vector<ClassCounts> counts =
      occupancy_.Sweep(WindowReset::kSweepAndMarker);
  EXPECT_EQ(counts[from].live_objects, 0u);
  EXPECT_EQ(counts[from].pinned, 0u);
  EXPECT_EQ(counts[from].held_since_marker, 0u);
  EXPECT_EQ(counts[to].live_objects, 1u);
  EXPECT_EQ(counts[to].requested_bytes, 30000u);
  EXPECT_EQ(counts[to].pinned, 1u);
  EXPECT_EQ(counts[to].held_since_marker, 1u);
  EXPECT_EQ(occupancy_.validation().inconsistencies(), 0u);
}

TEST_F(SlabOccupancyTest, InPlaceResizeWithinAClassUpdatesRequestedBytes) {
  Apply(events_.Alloc(Region(0, 0), c1280_, 1100));
  Apply(events_.Resize(Region(0, 0), c1280_, 1250));
  const ClassCounts& c = occupancy_.class_counts(c1280_);
  EXPECT_EQ(c.live_objects, 1u);
  EXPECT_EQ(c.requested_bytes, 1250u);
  EXPECT_EQ(c.pinned, 1u);
}

TEST_F(SlabOccupancyTest, UnknownFreesAreCountedAndSkipped) {
  Apply(events_.Alloc(Region(0, 0), c1280_));
  Apply(events_.Free(Region(0, 1), c1280_));
  Apply(events_.Free(Region(5, 1), c1280_));
  Apply(events_.Resize(Region(5, 2), c1280_, 1000));
  Apply(events_.Free(0, 0));  // free(NULL)
  EXPECT_EQ(occupancy_.validation().unknown_frees(), 2u);
  EXPECT_EQ(occupancy_.validation().unknown_resizes(), 1u);
  EXPECT_EQ(occupancy_.validation().inconsistencies(), 0u);
  EXPECT_EQ(occupancy_.live_objects(), 1u);
}

TEST_F(SlabOccupancyTest, DoubleFreeIsReportedWithItsEventIndex) {
  Apply(events_.Alloc(Region(0, 0), c1280_));  // index 0
  Apply(events_.Alloc(Region(0, 1), c1280_));  // 1
  Apply(events_.Free(Region(0, 0), c1280_));   // 2
  Apply(events_.Free(Region(0, 0), c1280_));   // 3: double free
  const Validation& v = occupancy_.validation();
  EXPECT_EQ(v.double_frees(), 1u);
  EXPECT_EQ(v.unknown_frees(), 0u);
  ASSERT_EQ(v.first_size(), 1);
  EXPECT_EQ(v.first(0).kind(), Inconsistency::DOUBLE_FREE);
  EXPECT_EQ(v.first(0).event_index(), 3u);
  EXPECT_EQ(v.first(0).ptr(), Region(0, 0));
  EXPECT_EQ(occupancy_.class_counts(c1280_).live_objects, 1u);
}

TEST_F(SlabOccupancyTest, AllocAtLiveAddressDropsTheOldObject) {
  const uint32_t c64 = geometry_.ClassForSize(64);
  const uint64_t ptr = Region(0, 0);  // 1280-aligned: also a 64-byte region.
  Apply(events_.Alloc(ptr, c1280_));  // 0
  Apply(events_.Alloc(ptr, c64));     // 1: inconsistent
  const Validation& v = occupancy_.validation();
  EXPECT_EQ(v.alloc_at_live_address(), 1u);
  ASSERT_GE(v.first_size(), 1);
  EXPECT_EQ(v.first(0).kind(), Inconsistency::ALLOC_AT_LIVE_ADDRESS);
  EXPECT_EQ(v.first(0).event_index(), 1u);
  EXPECT_EQ(occupancy_.class_counts(c1280_).live_objects, 0u);
  EXPECT_EQ(occupancy_.class_counts(c1280_).pinned, 0u);
  EXPECT_EQ(occupancy_.class_counts(c64).live_objects, 1u);
  EXPECT_EQ(occupancy_.live_objects(), 1u);
}

TEST_F(SlabOccupancyTest, EventWithoutGranuleIsAnInconsistency) {
  Event bad = events_.Alloc(Region(0, 0), c1280_);
  bad.slab = 0;
  Apply(bad);
  Event out_of_range = events_.Alloc(Region(0, 1), c1280_);
  out_of_range.size_class = geometry_.num_classes();
  Apply(out_of_range);
  EXPECT_EQ(occupancy_.validation().no_granule(), 2u);
  EXPECT_EQ(occupancy_.live_objects(), 0u);
}

TEST_F(SlabOccupancyTest, OverfullSlabIsReported) {
  FillSlab(0);
  // A 17th object whose recorded slab is the same full slab.
  Event extra = events_.Alloc(Region(0, 0) + 1, c1280_);
  extra.slab = Slab(0);
  Apply(extra);
  EXPECT_EQ(occupancy_.validation().slab_overfull(), 1u);
}

TEST_F(SlabOccupancyTest, AddressReusedByAnotherClassIsANewGranule) {
  const uint32_t c64 = geometry_.ClassForSize(64);
  FillSlab(0);
  occupancy_.Sweep(WindowReset::kSweepAndMarker);
  FreeSlab(0);
  Apply(events_.Alloc(Slab(0), c64));  // slab base of 64-byte class.
  ASSERT_EQ(geometry_.GranuleOf(Slab(0), c64), Slab(0));
  const std::vector<ClassCounts> counts =
      occupancy_.Sweep(WindowReset::kSweepAndMarker);
  EXPECT_EQ(counts[c1280_].pinned, 0u);
  EXPECT_EQ(counts[c1280_].held_since_marker, 1u);  // drained.
  EXPECT_EQ(counts[c64].pinned, 1u);
  EXPECT_EQ(counts[c64].held_since_marker, 1u);
  EXPECT_EQ(occupancy_.validation().inconsistencies(), 0u);
}

TEST_F(SlabOccupancyTest, AddressBackInItsFirstClassCountsOnceInTheWindow) {
  // (1280, X) held, drained; (64, X) held, drained; (1280, X) again: two
  // granules held in the window, not three, and the 1280 one pinned.
  const uint32_t c64 = geometry_.ClassForSize(64);
  occupancy_.Sweep(WindowReset::kSweepAndMarker);
  Apply(events_.Alloc(Slab(0), c1280_));
  Apply(events_.Free(Slab(0), c1280_));
  Apply(events_.Alloc(Slab(0), c64));
  Apply(events_.Free(Slab(0), c64));
  Apply(events_.Alloc(Slab(0), c1280_));
  const std::vector<ClassCounts> counts =
      occupancy_.Sweep(WindowReset::kSweepAndMarker);
  EXPECT_EQ(counts[c1280_].pinned, 1u);
  EXPECT_EQ(counts[c1280_].held_since_marker, 1u);
  EXPECT_EQ(counts[c1280_].held_since_sweep, 1u);
  EXPECT_EQ(counts[c64].pinned, 0u);
  EXPECT_EQ(counts[c64].held_since_marker, 1u);
  EXPECT_EQ(occupancy_.validation().inconsistencies(), 0u);
}

TEST_F(SlabOccupancyTest, ReusedGranuleEntryIsNotMistakenForItsOldSlab) {
  // The per-class last-granule hint points at an entry of granules_ that a
  // marker sweep frees and a later granule reuses: an allocation must still
  // land in its own slab.
  Apply(events_.Alloc(Region(0, 0), c1280_));
  Apply(events_.Free(Region(0, 0), c1280_));
  occupancy_.Sweep(WindowReset::kSweepAndMarker);  // forgets slab 0.
  ASSERT_EQ(occupancy_.tracked_granules(), 0u);
  Apply(events_.Alloc(Region(1, 0), c1280_));  // reuses slab 0's entry.
  Apply(events_.Alloc(Region(0, 1), c1280_));
  Apply(events_.Alloc(Region(1, 1), c1280_));
  EXPECT_EQ(occupancy_.class_counts(c1280_).pinned, 2u);
  const std::vector<SlabOccupancy::GranuleFill> pinned =
      occupancy_.PinnedGranules();
  ASSERT_EQ(pinned.size(), 2u);
  EXPECT_EQ(pinned[0].address, Slab(0));
  EXPECT_EQ(pinned[0].live, 1u);
  EXPECT_EQ(pinned[1].address, Slab(1));
  EXPECT_EQ(pinned[1].live, 2u);
  EXPECT_EQ(occupancy_.validation().inconsistencies(), 0u);
}

TEST_F(SlabOccupancyTest, ApplyAllMatchesApply) {
  std::vector<Event> events;
  for (int s = 0; s < 3; ++s) {
    for (int k = 0; k < 16; ++k)
      events.push_back(events_.Alloc(Region(s, k), c1280_));
  }
  for (int k = 0; k < 16; k += 3)
    events.push_back(events_.Free(Region(1, k), c1280_));
  SlabOccupancy batch(geometry_);
  batch.ApplyAll(events, 0);
  for (size_t i = 0; i < events.size(); ++i) occupancy_.Apply(events[i], i);
  const ClassCounts a = batch.Sweep(WindowReset::kSweepOnly)[c1280_];
  const ClassCounts b = occupancy_.Sweep(WindowReset::kSweepOnly)[c1280_];
  EXPECT_EQ(a.live_objects, b.live_objects);
  EXPECT_EQ(a.pinned, b.pinned);
  EXPECT_EQ(a.histogram, b.histogram);
  EXPECT_EQ(a.live_objects, 48u - 6);
}

}  // namespace
}  // namespace slabtrace
