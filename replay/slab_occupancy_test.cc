#include "replay/slab_occupancy.h"

#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/testing/redis_like_stream.h"
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

// Every test runs twice: with small objects in region arrays (the
// default) and with every object in the live-object table from the start.
// The two representations must agree on everything.
class SlabOccupancyTest : public ::testing::TestWithParam<bool> {
 protected:
  SlabOccupancyTest()
      : geometry_(*SlabGeometry::Create(JemallocTestHeader())),
        occupancy_(geometry_),
        events_(geometry_),
        c1280_(geometry_.ClassForSize(1280)) {
    if (GetParam()) occupancy_.UseLiveTableOnly();
  }

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

TEST_P(SlabOccupancyTest, GeometryIsTheOneTheTestAssumes) {
  ASSERT_EQ(geometry_.region_size(c1280_), 1280u);
  ASSERT_EQ(geometry_.nregs(c1280_), 16u);
  EXPECT_EQ(geometry_.GranuleOf(Region(2, 15), c1280_), Slab(2));
}

TEST_P(SlabOccupancyTest, FreeingEveryOtherObjectDrainsNothing) {
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

TEST_P(SlabOccupancyTest, FreeingWholeSlabsDrainsThem) {
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

TEST_P(SlabOccupancyTest, SweepAndMarkerWindowsDiffer) {
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

TEST_P(SlabOccupancyTest, RepinnedGranuleCountsOnceInItsWindow) {
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

TEST_P(SlabOccupancyTest, LargeAllocationIsItsOwnGranule) {
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

TEST_P(SlabOccupancyTest, RequestedBytesAreExactForFarBelowClassSize) {
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

TEST_P(SlabOccupancyTest, InPlaceResizeMovesALargeExtentToItsNewClass) {
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

TEST_P(SlabOccupancyTest, InPlaceResizeWithinAClassUpdatesRequestedBytes) {
  Apply(events_.Alloc(Region(0, 0), c1280_, 1100));
  Apply(events_.Resize(Region(0, 0), c1280_, 1250));
  const ClassCounts& c = occupancy_.class_counts(c1280_);
  EXPECT_EQ(c.live_objects, 1u);
  EXPECT_EQ(c.requested_bytes, 1250u);
  EXPECT_EQ(c.pinned, 1u);
}

TEST_P(SlabOccupancyTest, UnknownFreesAreCountedAndSkipped) {
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

TEST_P(SlabOccupancyTest, DoubleFreeIsReportedWithItsEventIndex) {
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

TEST_P(SlabOccupancyTest, AllocAtLiveAddressDropsTheOldObject) {
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

TEST_P(SlabOccupancyTest, EventWithoutGranuleIsAnInconsistency) {
  Event bad = events_.Alloc(Region(0, 0), c1280_);
  bad.slab = 0;
  Apply(bad);
  Event out_of_range = events_.Alloc(Region(0, 1), c1280_);
  out_of_range.size_class = geometry_.num_classes();
  Apply(out_of_range);
  EXPECT_EQ(occupancy_.validation().no_granule(), 2u);
  EXPECT_EQ(occupancy_.live_objects(), 0u);
}

TEST_P(SlabOccupancyTest, OverfullSlabIsReported) {
  FillSlab(0);
  // A 17th object whose recorded slab is the same full slab.
  Event extra = events_.Alloc(Region(0, 0) + 1, c1280_);
  extra.slab = Slab(0);
  Apply(extra);
  EXPECT_EQ(occupancy_.validation().slab_overfull(), 1u);
}

TEST_P(SlabOccupancyTest, AddressReusedByAnotherClassIsANewGranule) {
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

TEST_P(SlabOccupancyTest, AddressBackInItsFirstClassCountsOnceInTheWindow) {
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

TEST_P(SlabOccupancyTest, ReusedGranuleEntryIsNotMistakenForItsOldSlab) {
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

TEST_P(SlabOccupancyTest, ApplyAllMatchesApply) {
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

TEST_P(SlabOccupancyTest, EveryRegionOfASlabCanBeAllocatedAndFreed) {
  // Classes with 512, 256 (5 pages), 16 and 16 (7 pages) regions.
  uint64_t base = 0x7f4000000000;
  for (const uint64_t size : {8, 80, 1280, 1792}) {
    const uint32_t c = geometry_.ClassForSize(size);
    ASSERT_EQ(geometry_.region_size(c), size);
    const uint32_t nregs = geometry_.nregs(c);
    for (uint32_t k = 0; k < nregs; ++k) {
      Apply(events_.Alloc(base + k * size, c, size - k % size));
    }
    Apply(events_.Alloc(base + geometry_.slab_size(c), c, 1));  // next slab.
    ClassCounts counts = occupancy_.Sweep(WindowReset::kSweepOnly)[c];
    EXPECT_EQ(counts.live_objects, nregs + 1u) << size;
    EXPECT_EQ(counts.pinned, 2u) << size;
    EXPECT_EQ(counts.histogram[kHistogramBuckets - 1], 1u) << size;
    uint64_t requested = 1;
    for (uint32_t k = 0; k < nregs; ++k) requested += size - k % size;
    EXPECT_EQ(counts.requested_bytes, requested) << size;
    for (uint32_t k = nregs; k-- > 0;) {
      Apply(events_.Free(base + k * size, c));
    }
    for (uint32_t k = 0; k < nregs; ++k) {
      Apply(events_.Free(base + k * size, c));  // all double frees.
    }
    counts = occupancy_.Sweep(WindowReset::kSweepOnly)[c];
    EXPECT_EQ(counts.live_objects, 1u) << size;
    EXPECT_EQ(counts.requested_bytes, 1u) << size;
    EXPECT_EQ(counts.pinned, 1u) << size;
    base += uint64_t{1} << 32;
  }
  EXPECT_EQ(occupancy_.validation().double_frees(), 512u + 256 + 16 + 16);
  EXPECT_EQ(occupancy_.validation().inconsistencies(),
            occupancy_.validation().double_frees());
  EXPECT_EQ(occupancy_.uses_region_arrays(), !GetParam());
}

TEST_P(SlabOccupancyTest, FreeOfAPointerInsideARegionFreesNothing) {
  Apply(events_.Alloc(Region(0, 4), c1280_));
  Event inside = events_.Free(Region(0, 4) + 128, c1280_);
  EXPECT_EQ(inside.slab, 0u);  // the reader finds no granule for it.
  Apply(inside);
  inside.slab = Slab(0);  // a hand-made event naming the slab anyway.
  Apply(inside);
  EXPECT_EQ(occupancy_.validation().unknown_frees(), 2u);
  EXPECT_EQ(occupancy_.live_objects(), 1u);
  // A free naming another class still frees the object at its pointer.
  const uint32_t c64 = geometry_.ClassForSize(64);
  const Event other_class = events_.Free(Region(0, 4), c64);
  ASSERT_NE(other_class.slab, Slab(0));
  Apply(other_class);
  EXPECT_EQ(occupancy_.live_objects(), 0u);
  EXPECT_EQ(occupancy_.class_counts(c1280_).pinned, 0u);
  EXPECT_EQ(occupancy_.validation().inconsistencies(), 0u);
  EXPECT_EQ(occupancy_.uses_region_arrays(), !GetParam());
}

TEST_P(SlabOccupancyTest, DrainedSlabReusedByAnotherClassHoldsItsRegions) {
  const uint32_t c64 = geometry_.ClassForSize(64);
  FillSlab(0);
  FreeSlab(0);
  // Slab 0's address, as a 64-byte slab of one page: 64 regions.
  for (uint32_t k = 0; k < geometry_.nregs(c64); ++k) {
    Apply(events_.Alloc(Slab(0) + 64 * k, c64));
  }
  EXPECT_EQ(occupancy_.class_counts(c64).live_objects, geometry_.nregs(c64));
  EXPECT_EQ(occupancy_.class_counts(c64).pinned, 1u);
  for (uint32_t k = 0; k < geometry_.nregs(c64); ++k) {
    Apply(events_.Free(Slab(0) + 64 * k, c64));
  }
  FillSlab(0);  // and back to 1280.
  EXPECT_EQ(occupancy_.class_counts(c1280_).live_objects, 16u);
  EXPECT_EQ(occupancy_.class_counts(c64).pinned, 0u);
  EXPECT_EQ(occupancy_.validation().inconsistencies(), 0u);
  EXPECT_EQ(occupancy_.uses_region_arrays(), !GetParam());
}

INSTANTIATE_TEST_SUITE_P(Representations, SlabOccupancyTest,
                         ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "LiveTableOnly" : "RegionArrays";
                         });

// Region mode against the live table alone, on the same events.
class TwoRepresentations {
 public:
  explicit TwoRepresentations(const SlabGeometry& geometry)
      : regions_(geometry), table_(geometry) {
    table_.UseLiveTableOnly();
  }
  // Region mode through ApplyAll (a change of mode can happen mid-run),
  // the table one event at a time.
  void Apply(const std::vector<Event>& events) {
    regions_.ApplyAll(events, index_);
    for (const Event& e : events) table_.Apply(e, index_++);
  }
  void ExpectSame(WindowReset reset) {
    const std::vector<ClassCounts> a = regions_.Sweep(reset);
    const std::vector<ClassCounts> b = table_.Sweep(reset);
    ASSERT_EQ(a.size(), b.size());
    for (size_t c = 0; c < a.size(); ++c) {
      EXPECT_EQ(a[c].live_objects, b[c].live_objects) << c;
      EXPECT_EQ(a[c].requested_bytes, b[c].requested_bytes) << c;
      EXPECT_EQ(a[c].pinned, b[c].pinned) << c;
      EXPECT_EQ(a[c].held_since_sweep, b[c].held_since_sweep) << c;
      EXPECT_EQ(a[c].held_since_marker, b[c].held_since_marker) << c;
      EXPECT_EQ(a[c].histogram, b[c].histogram) << c;
    }
    EXPECT_EQ(regions_.validation().SerializeAsString(),
              table_.validation().SerializeAsString());
    EXPECT_EQ(regions_.live_objects(), table_.live_objects());
    const auto pa = regions_.PinnedGranules();
    const auto pb = table_.PinnedGranules();
    ASSERT_EQ(pa.size(), pb.size());
    for (size_t i = 0; i < pa.size(); ++i) {
      EXPECT_EQ(pa[i].address, pb[i].address);
      EXPECT_EQ(pa[i].size_class, pb[i].size_class);
      EXPECT_EQ(pa[i].live, pb[i].live);
    }
  }
  SlabOccupancy& regions() { return regions_; }

 private:
  SlabOccupancy regions_;
  SlabOccupancy table_;
  uint64_t index_ = 0;
};

class RegionModeTest : public ::testing::Test {
 protected:
  RegionModeTest()
      : geometry_(*SlabGeometry::Create(JemallocTestHeader())),
        events_(geometry_),
        c64_(geometry_.ClassForSize(64)),
        c1280_(geometry_.ClassForSize(1280)),
        large_(geometry_.ClassForSize(20000)) {}

  // Slab 0 of 1280 half full, a 64-byte slab, a large extent.
  std::vector<Event> Start() {
    std::vector<Event> e;
    for (int k = 0; k < 8; ++k)
      e.push_back(events_.Alloc(kBase + k * 1280, c1280_));
    e.push_back(events_.Alloc(kBase + 0x100000, c64_));
    e.push_back(events_.Alloc(kBase + 0x200040, large_, 20000));
    return e;
  }
  // Applies `start`, `irregular` and a tail of ordinary events in both
  // representations and compares them; returns whether region mode lasted.
  bool Run(const std::vector<Event>& irregular) {
    TwoRepresentations two(geometry_);
    two.Apply(Start());
    std::vector<Event> rest = irregular;
    rest.push_back(events_.Alloc(kBase + 9 * 1280, c1280_));
    rest.push_back(events_.Free(kBase + 0 * 1280, c1280_));
    rest.push_back(events_.Free(kBase + 0x100000, c64_));
    rest.push_back(events_.Free(kBase + 0x200040, large_));
    two.Apply(rest);
    two.ExpectSame(WindowReset::kSweepAndMarker);
    return two.regions().uses_region_arrays();
  }

  static constexpr uint64_t kBase = 0x7f5000000000;
  SlabGeometry geometry_;
  Events events_;
  const uint32_t c64_;
  const uint32_t c1280_;
  const uint32_t large_;
};

TEST_F(RegionModeTest, RegularIrregularitiesStayInRegionMode) {
  Event no_granule = events_.Alloc(kBase + 10 * 1280, c1280_);
  no_granule.slab = 0;
  Event bad_class = events_.Free(kBase, c1280_);
  bad_class.size_class = geometry_.num_classes();  // frees by pointer.
  EXPECT_TRUE(Run({
      events_.Free(kBase + 3 * 1280 + 256, c1280_),    // inside a region.
      events_.Free(kBase + 15 * 1280, c1280_),         // never allocated.
      events_.Free(0x7f9000000000, c64_),              // nowhere near.
      events_.Free(kBase + 7 * 1280, c64_),            // names another class.
      events_.Free(kBase + 7 * 1280, c1280_),          // double free.
      events_.Free(kBase + 0x200040, c1280_),          // large, as small.
      events_.Alloc(kBase + 0x200040, large_, 20000),  // and back.
      events_.Free(0, 0), events_.Alloc(0, c1280_), no_granule, bad_class,
      events_.Resize(kBase + 1280, c1280_, 3),               // in place.
      events_.Resize(kBase + 0x200040, large_, 19000),       // in place.
      events_.Resize(kBase + 11 * 1280, c1280_, 3),          // unknown.
      events_.Resize(kBase + 0x200040,                       // larger class,
                     geometry_.ClassForSize(30000), 30000),  // in place.
  }));
}

TEST_F(RegionModeTest, ClassConflictLeavesRegionMode) {
  // 64-byte region 1 of slab 0's first page: slab 0 itself, as a 64.
  EXPECT_FALSE(Run({events_.Alloc(kBase + 64, c64_)}));
}

TEST_F(RegionModeTest, OverlappingSlabsLeaveRegionMode) {
  // A 64-byte slab on slab 0's second page.
  EXPECT_FALSE(Run({events_.Alloc(kBase + 4096 + 64, c64_)}));
  // A 1280-byte slab whose five pages reach the 64-byte slab's page.
  EXPECT_FALSE(Run({events_.Alloc(kBase + 0x100000 - 0x1000, c1280_)}));
  // A large extent over slab 0's last page.
  EXPECT_FALSE(Run({events_.Alloc(kBase + 4 * 4096, large_, 20000)}));
}

TEST_F(RegionModeTest, DrainedSlabsGiveWayToOverlappingOnes) {
  // jemalloc reuses a freed slab's pages for other slabs: only pinned
  // granules may not overlap.
  TwoRepresentations two(geometry_);
  two.Apply(Start());
  std::vector<Event> events;
  for (int k = 0; k < 8; ++k)
    events.push_back(events_.Free(kBase + k * 1280, c1280_));
  events.push_back(events_.Alloc(kBase + 4096, c64_));  // in drained slab 0.
  events.push_back(events_.Alloc(kBase + 2 * 4096, c64_));
  events.push_back(events_.Free(kBase + 0x200040, large_));
  // Drained extent's pages, as a 1280-byte slab.
  events.push_back(events_.Alloc(kBase + 0x200000 + 1280, c1280_));
  two.Apply(events);
  two.ExpectSame(WindowReset::kSweepOnly);
  EXPECT_TRUE(two.regions().uses_region_arrays());
  // Slab 0 again, over the pinned 64-byte slabs: that is an overlap.
  two.Apply({events_.Alloc(kBase, c1280_)});
  two.ExpectSame(WindowReset::kSweepAndMarker);
  EXPECT_FALSE(two.regions().uses_region_arrays());
}

TEST_F(RegionModeTest, RepinnedSlabsAndForgottenOnesStayExact) {
  TwoRepresentations two(geometry_);
  std::vector<Event> events;
  for (int round = 0; round < 3; ++round) {
    for (int s = 0; s < 4; ++s) {  // fill, drain, re-pin each slab.
      const uint64_t slab = kBase + uint64_t(s) * 5 * 4096;
      events.push_back(events_.Alloc(slab + 1280, c1280_));
      events.push_back(events_.Free(slab + 1280, c1280_));
      events.push_back(events_.Alloc(slab + (2 + round) * 1280, c1280_, 1000));
    }
    two.Apply(events);
    events.clear();
    two.ExpectSame(WindowReset::kSweepOnly);
    for (int s = 0; s < 4; s += 2) {
      events.push_back(events_.Free(
          kBase + uint64_t(s) * 5 * 4096 + (2 + round) * 1280, c1280_));
    }
    two.Apply(events);
    events.clear();
    // Forgets the drained slabs (their entries and granules go).
    two.ExpectSame(WindowReset::kSweepAndMarker);
    // A drained slab's address as a 64-byte slab, then a free there.
    events.push_back(events_.Alloc(kBase + 64, c64_));
    events.push_back(events_.Free(kBase + 64, c64_));
  }
  two.Apply(events);
  two.ExpectSame(WindowReset::kSweepAndMarker);
  EXPECT_TRUE(two.regions().uses_region_arrays());
}

TEST_F(RegionModeTest, AllocAtALiveAddressLeavesRegionMode) {
  EXPECT_FALSE(Run({events_.Alloc(kBase + 1280, c1280_)}));
}

TEST_F(RegionModeTest, AllocAtALiveAddressOfAnotherClassLeavesRegionMode) {
  EXPECT_FALSE(Run({events_.Alloc(kBase, c64_)}));
}

TEST_F(RegionModeTest, OverfullSlabLeavesRegionMode) {
  Event extra = events_.Alloc(kBase + 16 * 1280, c1280_);  // next slab ...
  extra.slab = kBase;  // ... recorded as slab 0.
  EXPECT_FALSE(Run({extra}));
}

TEST_F(RegionModeTest, LargeObjectOutsideItsExtentLeavesRegionMode) {
  // A large object whose event names an extent that does not hold it, then
  // a small slab at its address: hash mode sees an alloc at a live address.
  const uint64_t ptr = kBase + 0x400000;
  Event large = events_.Alloc(ptr, large_, 20000);
  large.slab = kBase + 0x300000;
  EXPECT_FALSE(Run({large, events_.Alloc(ptr, c64_)}));
}

TEST_F(RegionModeTest, SecondObjectInALargeExtentLeavesRegionMode) {
  EXPECT_FALSE(Run({events_.Alloc(kBase + 0x200080, large_, 20000)}));
}

TEST_F(RegionModeTest, ResizeThatMovesOrChangesClassLeavesRegionMode) {
  EXPECT_FALSE(Run({events_.Resize(kBase + 1280, c64_, 10)}));
  EXPECT_FALSE(Run({events_.Resize(kBase + 0x100000, c1280_, 1000)}));
  EXPECT_FALSE(Run({events_.Resize(kBase + 0x200040, c64_, 10)}));
}

TEST_F(RegionModeTest, SparseSlabsLeaveRegionModeWithinTheMemoryBound) {
  // One 8-byte object in each of 1,000 slabs of 512 regions: 1 KiB of
  // region array per object, beyond the bound once past its floor.
  const uint32_t c8 = geometry_.ClassForSize(8);
  ASSERT_EQ(geometry_.nregs(c8), 512u);
  TwoRepresentations two(geometry_);
  std::vector<Event> events;
  for (int s = 0; s < 1000; ++s) {
    events.push_back(events_.Alloc(kBase + uint64_t(s) * 4096 * 2, c8));
  }
  two.Apply(events);
  EXPECT_FALSE(two.regions().uses_region_arrays());
  EXPECT_LT(two.regions().table_bytes(), 1000u * 1024);
  two.ExpectSame(WindowReset::kSweepAndMarker);
}

TEST(SlabOccupancyGeometryTest,
     SmallClassesTooLargeForTwoByteSlackUseTheTable) {
  // Small classes up to 80 KiB (as with larger pages): a slack may not fit
  // a region slot, so the table holds everything from the start.
  TraceHeader header = JemallocTestHeader();
  uint32_t nbins = 0;
  for (SizeClass& c : *header.mutable_size_classes()) {
    if (c.size() > 81920) break;
    c.set_slab_size(std::lcm(uint64_t{4096}, c.size()));
    c.set_nregs(static_cast<uint32_t>(c.slab_size() / c.size()));
    ++nbins;
  }
  header.set_nbins(nbins);
  absl::StatusOr<SlabGeometry> geometry = SlabGeometry::Create(header);
  ASSERT_TRUE(geometry.ok()) << geometry.status();
  const uint32_t c80k = geometry->ClassForSize(81920);
  ASSERT_TRUE(geometry->is_small(c80k));
  SlabOccupancy occupancy(*geometry);
  EXPECT_FALSE(occupancy.uses_region_arrays());
  Events events(*geometry);
  occupancy.Apply(events.Alloc(0x7f6000000000, c80k, 100), 0);
  occupancy.Apply(events.Alloc(0x7f6000000000 + 81920, c80k, 81920), 1);
  EXPECT_EQ(occupancy.class_counts(c80k).requested_bytes, 100u + 81920);
  EXPECT_EQ(occupancy.class_counts(c80k).pinned, 2u);  // one region each.
  occupancy.Apply(events.Free(0x7f6000000000, c80k), 2);
  EXPECT_EQ(occupancy.class_counts(c80k).requested_bytes, 81920u);
  // The default geometry's small classes all fit.
  EXPECT_TRUE(SlabOccupancy(*SlabGeometry::Create(JemallocTestHeader()))
                  .uses_region_arrays());
}

TEST(SlabOccupancyReserveTest, TheReservationWaitsForTheLiveTable) {
  const SlabGeometry geometry = *SlabGeometry::Create(JemallocTestHeader());
  SlabOccupancy occupancy(geometry);
  occupancy.ReserveLiveObjects(2000);
  EXPECT_EQ(occupancy.reserved_live_objects(), 2000u);
  EXPECT_LE(occupancy.live_table_capacity(), 16u);  // in region mode.
  occupancy.UseLiveTableOnly();
  EXPECT_GE(occupancy.live_table_capacity() * 5 / 8, 2000u);
  EXPECT_LE(occupancy.live_table_capacity(), 4096u);
}

// A long Redis-like stream with irregular events mixed in, in both
// representations, compared at every sweep.
void CompareOnAStream(bool with_conflict) {
  const SlabGeometry geometry = *SlabGeometry::Create(JemallocTestHeader());
  RedisLikeStream stream(JemallocTestHeader(),
                         {.seed = 7, .max_live_objects = 20000});
  std::mt19937_64 random(11);
  TwoRepresentations two(geometry);
  std::vector<Event> recent;  // recent allocations, to free wrongly.
  uint64_t seq = 0;
  for (int round = 0; round < 12; ++round) {
    std::vector<Event> events;
    for (int i = 0; i < 25000; ++i) {
      Event e;
      stream.Next(&e);
      e.slab = geometry.GranuleOf(e.ptr, e.size_class);
      if (e.kind == EventKind::kAlloc) recent.push_back(e);
      events.push_back(e);
      if (random() % 64 != 0 || recent.empty()) continue;
      // An irregular event after this one.
      Event odd = recent[random() % recent.size()];
      switch (random() % 5) {
        case 0:  // a free (maybe double, maybe of a live one) naming
          odd.kind = EventKind::kFree;  // another class.
          odd.size_class = static_cast<uint16_t>(random() % geometry.nbins());
          break;
        case 1:  // a free of a pointer never allocated.
          odd.kind = EventKind::kFree;
          odd.ptr += 0x100000000000;
          break;
        case 2:  // an in-place resize.
          odd.kind = EventKind::kResize;
          odd.size = 1 + random() % geometry.region_size(odd.size_class);
          break;
        case 3:  // a free of an inner pointer.
          odd.kind = EventKind::kFree;
          odd.ptr += 8;
          break;
        case 4:  // a free as recorded.
          odd.kind = EventKind::kFree;
          break;
      }
      odd.slab = geometry.GranuleOf(odd.ptr, odd.size_class);
      events.push_back(odd);
    }
    if (with_conflict && round == 6) {
      // An allocation at a live address: region mode ends here.
      Event again = recent.back();
      events.insert(events.begin() + 100, again);
    }
    for (Event& e : events) e.seq = seq++;
    if (recent.size() > 4096) recent.erase(recent.begin(), recent.end() - 1024);
    two.Apply(events);
    two.ExpectSame(round % 3 == 2 ? WindowReset::kSweepAndMarker
                                  : WindowReset::kSweepOnly);
  }
  EXPECT_EQ(two.regions().uses_region_arrays(), !with_conflict);
}

TEST(RegionModeStreamTest, IrregularFreesAndResizesAgree) {
  CompareOnAStream(false);
}

TEST(RegionModeStreamTest, LeavingRegionModeMidStreamAgrees) {
  CompareOnAStream(true);
}

}  // namespace
}  // namespace slabtrace
