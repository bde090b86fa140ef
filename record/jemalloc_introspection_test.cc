// The recorder's slab geometry against jemalloc itself: thousands of blocks
// in a private arena with the thread cache off, grouped by the slab
// SlabGeometry computes from ReadJemallocHeader's table, must match the
// per-slab counts jemalloc's experimental.utilization.query reports for
// every pointer. And the statistics snapshot must see exactly the private
// arena's live regions when that arena is not excluded.

#include "record/jemalloc_introspection.h"

#include <jemalloc/jemalloc.h>

#include <cstdint>
#include <map>
#include <vector>

#include "gtest/gtest.h"
#include "proto/slab_geometry.h"

namespace slabtrace {
namespace {

// jemalloc 5.3's answer to experimental.utilization.query (its "verbose"
// per-extent record).
struct Utilization {
  void* slabcur_addr;
  size_t nfree;
  size_t nregs;
  size_t size;  // bytes of the slab (extent) holding the pointer.
  size_t bin_nfree;
  size_t bin_nregs;
};

Utilization Query(void* ptr) {
  Utilization out = {};
  size_t out_size = sizeof(out);
  EXPECT_EQ(mallctl("experimental.utilization.query", &out, &out_size, &ptr,
                    sizeof(ptr)),
            0);
  return out;
}

unsigned CreateArena() {
  unsigned arena = 0;
  size_t size = sizeof(arena);
  EXPECT_EQ(mallctl("arenas.create", &arena, &size, nullptr, 0), 0);
  return arena;
}

TEST(JemallocIntrospectionTest, HeaderIsAcceptedBySlabGeometry) {
  TraceHeader header;
  ASSERT_TRUE(ReadJemallocHeader(&header).ok());
  EXPECT_EQ(header.allocator(), "jemalloc");
  EXPECT_GT(header.nbins(), 30u);
  EXPECT_EQ(header.tcache_ncached_max_size(), header.size_classes_size());
  EXPECT_TRUE(SlabGeometry::Create(header).ok());
  bool cache_oblivious = false;
  size_t size = sizeof(cache_oblivious);
  ASSERT_EQ(mallctl("opt.cache_oblivious", &cache_oblivious, &size, nullptr, 0),
            0);
  EXPECT_EQ(header.large_extent_pad(),
            cache_oblivious ? header.page_size() : 0u);
}

TEST(JemallocIntrospectionTest, ComputedSlabsMatchJemallocPerSlabCounts) {
  TraceHeader header;
  ASSERT_TRUE(ReadJemallocHeader(&header).ok());
  absl::StatusOr<SlabGeometry> geometry = SlabGeometry::Create(header);
  ASSERT_TRUE(geometry.ok()) << geometry.status();
  const int flags = MALLOCX_ARENA(CreateArena()) | MALLOCX_TCACHE_NONE;

  std::vector<void*> live;
  for (size_t size : {8, 48, 96, 160, 640, 1280, 3584, 14336}) {
    std::vector<void*> blocks;
    for (int i = 0; i < 3000; ++i) blocks.push_back(mallocx(size, flags));
    // Free every third block so that most slabs are partly full.
    for (size_t i = 0; i < blocks.size(); ++i) {
      if (i % 3 == 1) {
        dallocx(blocks[i], flags);
      } else {
        live.push_back(blocks[i]);
      }
    }
  }
  std::map<uint64_t, uint32_t> live_per_slab;
  std::vector<std::pair<uint64_t, uint32_t>> slab_and_class;
  for (void* ptr : live) {
    const uint32_t size_class = geometry->ClassForSize(sallocx(ptr, 0));
    ASSERT_TRUE(geometry->is_small(size_class));
    const uint64_t slab =
        geometry->GranuleOf(reinterpret_cast<uintptr_t>(ptr), size_class);
    ASSERT_NE(slab, 0u);
    ++live_per_slab[slab];
    slab_and_class.push_back({slab, size_class});
  }
  EXPECT_GT(live_per_slab.size(), 100u);
  for (size_t i = 0; i < live.size(); ++i) {
    const Utilization jemalloc = Query(live[i]);
    const auto [slab, size_class] = slab_and_class[i];
    ASSERT_EQ(jemalloc.nregs, geometry->nregs(size_class));
    ASSERT_EQ(jemalloc.size, geometry->slab_size(size_class));
    ASSERT_EQ(jemalloc.nregs - jemalloc.nfree, live_per_slab[slab])
        << "slab 0x" << std::hex << slab << " of class " << std::dec
        << size_class;
  }
  for (void* ptr : live) dallocx(ptr, flags);
}

TEST(JemallocIntrospectionTest, StatsSeeThePrivateArenaOnlyWhenNotExcluded) {
  const unsigned arena = CreateArena();
  const int flags = MALLOCX_ARENA(arena) | MALLOCX_TCACHE_NONE;
  TraceHeader header;
  ASSERT_TRUE(ReadJemallocHeader(&header).ok());
  absl::StatusOr<SlabGeometry> geometry = SlabGeometry::Create(header);
  ASSERT_TRUE(geometry.ok());
  const uint32_t size_class = geometry->ClassForSize(640);
  std::vector<void*> blocks;
  for (int i = 0; i < 1000; ++i) blocks.push_back(mallocx(640, flags));
  // `without` first: the first snapshot's own protobuf allocations can only
  // add to the second's totals.
  absl::StatusOr<AllocatorStats> without = ReadJemallocStats(arena);
  absl::StatusOr<AllocatorStats> with = ReadJemallocStats();
  ASSERT_TRUE(with.ok()) << with.status();
  ASSERT_TRUE(without.ok()) << without.status();
  EXPECT_EQ(
      with->bins(size_class).curregs() - without->bins(size_class).curregs(),
      1000u);
  EXPECT_EQ(
      with->bins(size_class).curslabs() - without->bins(size_class).curslabs(),
      (1000 + geometry->nregs(size_class) - 1) / geometry->nregs(size_class));
  // The totals leave the private arena out as well.
  EXPECT_GE(with->allocated() - without->allocated(), 1000u * 640);
  EXPECT_GE(with->active() - without->active(), 1000u * 640);
  EXPECT_GE(with->resident(), without->resident());
  EXPECT_GE(with->mapped(), without->mapped());
  for (void* ptr : blocks) dallocx(ptr, flags);
}

TEST(JemallocIntrospectionTest, NcachedMaxFollowsJemallocRules) {
  TcacheOptions options;  // jemalloc 5.3's defaults
  options.nhbins = 41;
  // 2 * nregs, clamped to [20, 200] and made even.
  EXPECT_EQ(TcacheNcachedMax(options, 0, 36, 512), 200u);
  EXPECT_EQ(TcacheNcachedMax(options, 20, 36, 16), 32u);
  EXPECT_EQ(TcacheNcachedMax(options, 30, 36, 4), 20u);
  EXPECT_EQ(TcacheNcachedMax(options, 36, 36, 0), 20u);  // large, cached
  EXPECT_EQ(TcacheNcachedMax(options, 41, 36, 0), 0u);   // beyond tcache_max
  options.lg_nslots_mul = -1;
  EXPECT_EQ(TcacheNcachedMax(options, 20, 36, 50), 26u);  // 25 -> even
  options.enabled = false;
  EXPECT_EQ(TcacheNcachedMax(options, 0, 36, 512), 0u);
}

}  // namespace
}  // namespace slabtrace
