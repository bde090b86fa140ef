#include "sim/simulated_allocator.h"

#include <memory>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/testing/test_header.h"
#include "sim/policy_registry.h"

namespace slabtrace {
namespace {

// Drives a SimulatedAllocator with hand-made events for one policy.
class Harness {
 public:
  explicit Harness(const std::string& policy, ThreadCacheOptions tcache = {},
                   GeometryOptions geometry_options = {})
      : header_(JemallocTestHeader()),
        base_(*SlabGeometry::Create(header_)),
        geometry_(*SimGeometry::Create(base_, geometry_options)) {
    PolicyContext context;
    context.geometry = &geometry_;
    context.header = &header_;
    policy_ = *MakePolicy(policy, context);
    allocator_ =
        std::make_unique<SimulatedAllocator>(geometry_, policy_.get(), tcache);
    allocator_->OpenWindow();
  }

  uint32_t ClassOf(uint64_t size) const { return base_.ClassForSize(size); }

  uint64_t Alloc(uint32_t size_class, uint32_t thread = 0) {
    ObjectEvent event;
    event.kind = ObjectEvent::Kind::kAlloc;
    event.seq = event.object_id = seq_++;
    event.size_class = size_class;
    event.thread = thread;
    EXPECT_TRUE(allocator_->Apply(event).ok());
    return event.object_id;
  }
  void Free(uint64_t id, uint32_t thread = 0) {
    ObjectEvent event;
    event.kind = ObjectEvent::Kind::kFree;
    event.seq = seq_++;
    event.object_id = id;
    event.thread = thread;
    EXPECT_TRUE(allocator_->Apply(event).ok());
  }
  // Index of the slab `id` lives in.
  uint32_t SlabOf(uint64_t id) const {
    SimulatedAllocator::Location location;
    EXPECT_TRUE(allocator_->Locate(id, &location));
    return location.slab;
  }
  SimulatedAllocator& allocator() { return *allocator_; }
  const SimGeometry& geometry() const { return geometry_; }

 private:
  TraceHeader header_;
  SlabGeometry base_;
  SimGeometry geometry_;
  std::unique_ptr<PlacementPolicy> policy_;
  std::unique_ptr<SimulatedAllocator> allocator_;
  uint64_t seq_ = 1;
};

TEST(SimGeometryTest, ScaleAndPageOverride) {
  const TraceHeader header = JemallocTestHeader();
  const SlabGeometry base = *SlabGeometry::Create(header);
  const uint32_t c1280 = base.ClassForSize(1280);
  const uint32_t c48 = base.ClassForSize(48);
  GeometryOptions options;
  ASSERT_TRUE(ParseSlabScale("4", &options).ok());
  SimGeometry scaled = *SimGeometry::Create(base, options);
  EXPECT_EQ(scaled.nregs(c1280), 4 * base.nregs(c1280));
  EXPECT_EQ(scaled.granule_bytes(c1280), 4 * base.slab_size(c1280));

  ASSERT_TRUE(ParseSlabScale("1/16", &options).ok());
  SimGeometry shrunk = *SimGeometry::Create(base, options);
  EXPECT_EQ(shrunk.nregs(c1280), base.nregs(c1280) / 16);  // 16 / 16 = 1.
  // 48-byte class: 256 regions per 12 KiB slab, divisible by 16.
  EXPECT_EQ(shrunk.nregs(c48), base.nregs(c48) / 16);
  EXPECT_GT(shrunk.unscaled_classes(), 0);  // e.g. 14336: 7 regions.

  options = GeometryOptions();
  options.page_size = 16384;
  SimGeometry paged = *SimGeometry::Create(base, options);
  EXPECT_EQ(paged.granule_bytes(c1280), 81920u);  // lcm(16384, 1280).
  EXPECT_EQ(paged.nregs(c1280), 64u);

  EXPECT_FALSE(ParseSlabScale("0", &options).ok());
  EXPECT_FALSE(ParseSlabScale("1/x", &options).ok());
  options.page_size = 3000;
  EXPECT_FALSE(SimGeometry::Create(base, options).ok());
}

TEST(SimulatedAllocatorTest, ReleasesEmptySlabsAndCountsFootprint) {
  Harness h("first-fit");
  const uint32_t c = h.ClassOf(1280);
  const uint32_t nregs = h.geometry().nregs(c);
  std::vector<uint64_t> ids;
  for (uint32_t i = 0; i < 2 * nregs; ++i) ids.push_back(h.Alloc(c));
  EXPECT_EQ(h.allocator().slabs(c).live_slabs(), 2u);
  EXPECT_EQ(h.allocator().footprint_bytes(), 2 * h.geometry().granule_bytes(c));
  for (uint32_t i = 0; i < nregs; ++i) h.Free(ids[i]);
  EXPECT_EQ(h.allocator().slabs(c).live_slabs(), 1u);
  EXPECT_EQ(h.allocator().footprint_bytes(), h.geometry().granule_bytes(c));
  EXPECT_EQ(h.allocator().peak_footprint_bytes(),
            2 * h.geometry().granule_bytes(c));
  EXPECT_EQ(h.allocator().live_objects(), nregs);
  EXPECT_EQ(h.allocator().live_bytes(), nregs * 1280u);
  EXPECT_EQ(h.allocator().counters(c).held, 2u);
}

TEST(SimulatedAllocatorTest, FreeOfUnknownObjectIsAnError) {
  Harness h("first-fit");
  ObjectEvent event;
  event.kind = ObjectEvent::Kind::kFree;
  event.seq = 77;
  event.object_id = 5;
  const absl::Status status = h.allocator().Apply(event);
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(std::string(status.message()), testing::HasSubstr("seq 77"));
}

// The object table's empty-slot marker is ~0; a free of that id, never
// allocated, must still be an error (it used to match an empty slot).
TEST(SimulatedAllocatorTest, FreeOfMaxIdThatIsNotLiveIsAnError) {
  Harness h("first-fit");
  h.Alloc(h.ClassOf(64));
  ObjectEvent event;
  event.kind = ObjectEvent::Kind::kFree;
  event.seq = 78;
  event.object_id = ~uint64_t{0};
  const absl::Status status = h.allocator().Apply(event);
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(std::string(status.message()), testing::HasSubstr("not live"));
  EXPECT_EQ(h.allocator().live_objects(), 1u);
}

// A granule released and re-created at the same (allocator-assigned)
// address within one DSR window is held once; in the next window it is a
// new holding. Small slabs and large granules alike.
TEST(SimulatedAllocatorTest, GranuleReleasedAndRecreatedInAWindowIsHeldOnce) {
  for (const uint64_t size : {64, 100000}) {
    Harness h("first-fit");
    const uint32_t c = h.ClassOf(size);
    const uint64_t a = h.Alloc(c);
    h.Free(a);
    const uint64_t b = h.Alloc(c);  // same index, same address.
    EXPECT_EQ(h.allocator().counters(c).held, 1u) << size;
    h.allocator().OpenWindow();
    EXPECT_EQ(h.allocator().counters(c).held, 1u) << size;
    h.Free(b);
    h.allocator().OpenWindow();  // nothing held now.
    EXPECT_EQ(h.allocator().counters(c).held, 0u) << size;
    // Released in the previous window: a new holding in this one.
    const uint64_t d = h.Alloc(c);
    EXPECT_EQ(h.allocator().counters(c).held, 1u) << size;
    h.Free(d);
    h.Alloc(c);
    EXPECT_EQ(h.allocator().counters(c).held, 1u) << size;
  }
}

// Slabs A, B, C of one class with 15, 8 and 2 live objects: best-fit puts
// the next object in A, worst-fit in C.
TEST(SimulatedAllocatorTest, BestFitAndWorstFitChooseDifferently) {
  for (const std::string policy : {"best-fit", "worst-fit"}) {
    Harness h(policy);
    const uint32_t c = h.ClassOf(1280);  // 16 regions per slab.
    std::vector<uint64_t> ids;
    for (int i = 0; i < 48; ++i) ids.push_back(h.Alloc(c));
    const uint32_t a = h.SlabOf(ids[0]), b = h.SlabOf(ids[16]),
                   cc = h.SlabOf(ids[32]);
    h.Free(ids[0]);                                // A: 15.
    for (int i = 16; i < 24; ++i) h.Free(ids[i]);  // B: 8.
    for (int i = 32; i < 46; ++i) h.Free(ids[i]);  // C: 2.
    const uint64_t next = h.Alloc(c);
    const SlabTable& slabs = h.allocator().slabs(c);
    if (policy == "best-fit") {
      EXPECT_EQ(h.SlabOf(next), a);
      EXPECT_EQ(slabs.fill(a), 16u);
    } else {
      EXPECT_EQ(h.SlabOf(next), cc);
      EXPECT_EQ(slabs.fill(cc), 3u);
    }
    EXPECT_EQ(slabs.fill(b), 8u);
  }
}

// jemalloc prefers the lowest (serial, address) non-full slab, not the
// lowest address: a slab re-created at the lowest address is the newest.
TEST(SimulatedAllocatorTest, JemallocChoosesByAgeThenAddress) {
  for (const std::string policy : {"jemalloc", "first-fit"}) {
    Harness h(policy);
    const uint32_t c = h.ClassOf(1280);
    std::vector<uint64_t> ids;
    for (int i = 0; i < 48; ++i) ids.push_back(h.Alloc(c));  // S0 S1 S2 full.
    const uint32_t s1 = h.SlabOf(ids[16]), s2 = h.SlabOf(ids[32]);
    for (int i = 0; i < 16; ++i) h.Free(ids[i]);  // S0 released.
    const uint64_t fresh = h.Alloc(c);  // new slab, lowest address, newest.
    const uint32_t s_new = h.SlabOf(fresh);
    const SlabTable& slabs = h.allocator().slabs(c);
    ASSERT_LT(slabs.address(s_new), slabs.address(s1));
    ASSERT_GT(slabs.serial(s_new), slabs.serial(s2));
    h.Free(ids[16]);  // S1 not full: older than slabcur, becomes slabcur.
    h.Free(ids[32]);  // S2 not full: into the non-full heap.
    const uint64_t x = h.Alloc(c);
    const uint64_t y = h.Alloc(c);
    if (policy == "jemalloc") {
      EXPECT_EQ(h.SlabOf(x), s1);
      EXPECT_EQ(h.SlabOf(y), s2);  // older than s_new despite its address.
      EXPECT_EQ(slabs.fill(s_new), 1u);
    } else {
      EXPECT_EQ(h.SlabOf(x), s_new);
      EXPECT_EQ(h.SlabOf(y), s_new);
      EXPECT_EQ(slabs.fill(s_new), 3u);
    }
  }
}

TEST(SimulatedAllocatorTest, JemallocArenasKeepThreadsApart) {
  TraceHeader header = JemallocTestHeader();
  header.set_narenas(2);
  const SlabGeometry base = *SlabGeometry::Create(header);
  const SimGeometry geometry = *SimGeometry::Create(base, {});
  PolicyContext context;
  context.geometry = &geometry;
  context.header = &header;
  std::unique_ptr<PlacementPolicy> policy = *MakePolicy("jemalloc", context);
  SimulatedAllocator allocator(geometry, policy.get());
  const uint32_t c = base.ClassForSize(1280);
  for (uint64_t i = 0; i < 4; ++i) {
    ObjectEvent event;
    event.seq = event.object_id = i + 1;
    event.size_class = c;
    event.thread = static_cast<uint32_t>(i % 2);  // arenas 0 and 1.
    ASSERT_TRUE(allocator.Apply(event).ok());
  }
  // One slab per arena, though both would fit in one.
  EXPECT_EQ(allocator.slabs(c).live_slabs(), 2u);
}

// ncached_max 4: fills take 2 regions; a free into a full cache flushes the
// 2 oldest first. Counts below are worked out by hand.
TEST(SimulatedAllocatorTest, ThreadCacheFillsAndFlushes) {
  const TraceHeader header = JemallocTestHeader();
  const uint32_t c = SlabGeometry::Create(header)->ClassForSize(1280);
  ThreadCacheOptions tcache;
  tcache.enabled = true;
  tcache.ncached_max.assign(c + 1, 0);
  tcache.ncached_max[c] = 4;
  tcache.gc_incr_bytes = ~uint64_t{0};  // no GC in this test.
  Harness h("jemalloc", tcache);
  const uint64_t first = h.Alloc(c);
  EXPECT_EQ(h.allocator().cached_regions(), 1u);
  EXPECT_EQ(h.allocator().slabs(c).fill(h.SlabOf(first)), 2u);
  std::vector<uint64_t> ids = {first};
  for (int i = 1; i < 10; ++i) ids.push_back(h.Alloc(c));
  EXPECT_EQ(h.allocator().cached_regions(), 0u);  // 5 fills of 2.
  for (uint64_t id : ids) h.Free(id);
  // Pushes: 1 2 3 4, flush 2 -> 3, 4, flush -> 3, 4, flush -> 3, 4.
  EXPECT_EQ(h.allocator().cached_regions(), 4u);
  EXPECT_EQ(h.allocator().live_objects(), 0u);
  EXPECT_EQ(h.allocator().slabs(c).live_slabs(), 1u);  // pinned by cache.
}

TEST(SimulatedAllocatorTest, ThreadCacheGcFlushesUnusedRegions) {
  const TraceHeader header = JemallocTestHeader();
  const uint32_t c = SlabGeometry::Create(header)->ClassForSize(1280);
  ThreadCacheOptions tcache;
  tcache.enabled = true;
  tcache.ncached_max.assign(c + 1, 0);
  tcache.ncached_max[c] = 8;
  tcache.gc_incr_bytes = 1280 * 6;
  Harness h("jemalloc", tcache);
  // Only class c is cached, so every GC step (every 6 events) visits it.
  // Cache size after each event, worked out by hand:
  //  4 allocs (one fill of 8 >> 1 = 4): 3 2 1 0; frees: 1 2 [GC: low water
  //  0, nothing flushed, low water := 2] 3 4;
  //  pairs: 3 4 3 4 [GC: low water 2, flush 2 - 2/4 = 2 -> 2, := 2]
  //         1 2 1 2 1 2 [GC: low water 1, flush 1 -> 1].
  std::vector<uint64_t> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(h.Alloc(c));
  for (uint64_t id : ids) h.Free(id);
  for (int i = 0; i < 2; ++i) h.Free(h.Alloc(c));
  EXPECT_EQ(h.allocator().cached_regions(), 2u);
  for (int i = 0; i < 3; ++i) h.Free(h.Alloc(c));
  EXPECT_EQ(h.allocator().cached_regions(), 1u);
  EXPECT_EQ(h.allocator().live_objects(), 0u);
  EXPECT_EQ(h.allocator().slabs(c).live_slabs(), 1u);
}

TEST(SimulatedAllocatorTest, LargeObjectsGetTheirOwnGranules) {
  Harness h("best-fit");
  const uint32_t c = h.ClassOf(100000);
  ASSERT_FALSE(h.geometry().is_small(c));
  const uint64_t a = h.Alloc(c);
  h.Alloc(c);
  EXPECT_EQ(h.allocator().slabs(c).live_slabs(), 2u);
  EXPECT_EQ(h.allocator().footprint_bytes(), 2 * h.geometry().granule_bytes(c));
  h.Free(a);
  EXPECT_EQ(h.allocator().slabs(c).live_slabs(), 1u);
}

}  // namespace
}  // namespace slabtrace
