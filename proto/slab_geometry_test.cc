#include "proto/slab_geometry.h"

#include <cstdint>

#include "gtest/gtest.h"
#include "proto/testing/test_header.h"

namespace slabtrace {
namespace {

TEST(TestHeaderTest, HasJemallocDefaultShape) {
  const TraceHeader header = JemallocTestHeader();
  ASSERT_EQ(header.nbins(), 36u);
  EXPECT_EQ(header.size_classes(0).size(), 8u);
  EXPECT_EQ(header.size_classes(35).size(), 14336u);
  EXPECT_EQ(header.size_classes(36).size(), 16384u);
  EXPECT_EQ(header.size_classes(36).nregs(), 0u);
  EXPECT_EQ(header.size_classes(21).size(), 1280u);
  EXPECT_EQ(header.size_classes(21).slab_size(), 20480u);
  EXPECT_EQ(header.size_classes(21).nregs(), 16u);
  EXPECT_GE(header.size_classes(header.size_classes_size() - 1).size(),
            uint64_t{8} << 20);
  ASSERT_EQ(header.tcache_ncached_max_size(), header.size_classes_size());
  EXPECT_EQ(header.tcache_ncached_max(0), 200u);  // 512 regions.
  EXPECT_EQ(header.tcache_ncached_max(21), 32u);  // 1280: 16 regions.
  EXPECT_EQ(header.tcache_ncached_max(35), 20u);  // 14336: 2 regions.
  EXPECT_EQ(header.tcache_ncached_max(40), 20u);  // 32 KiB.
  EXPECT_EQ(header.tcache_ncached_max(41), 0u);   // 40 KiB.
}

TEST(SlabGeometryTest, EveryRegionMapsBackToItsSlab) {
  const TraceHeader header = JemallocTestHeader();
  const absl::StatusOr<SlabGeometry> geometry = SlabGeometry::Create(header);
  ASSERT_TRUE(geometry.ok()) << geometry.status();
  ASSERT_EQ(geometry->nbins(), 36);
  for (uint32_t c = 0; c < header.nbins(); ++c) {
    const uint64_t size = geometry->region_size(c);
    const uint64_t slab = geometry->slab_size(c);
    const uint32_t nregs = geometry->nregs(c);
    ASSERT_EQ(uint64_t{nregs} * size, slab);
    // A few slabs at different page-aligned bases, back to back.
    for (uint64_t base :
         {uint64_t{0x7f0000000000}, uint64_t{0x7f0000000000} + slab,
          uint64_t{0x55550000} * 4096 + 3 * 4096}) {
      for (uint32_t k = 0; k < nregs; ++k) {
        const uint64_t ptr = base + uint64_t{k} * size;
        ASSERT_EQ(geometry->GranuleOf(ptr, c), base)
            << "class " << c << " region " << k;
        ASSERT_EQ(geometry->RegionOf(ptr, c), k);
      }
    }
  }
}

TEST(SlabGeometryTest, LocateRegionAgreesWithGranuleOfAndRegionOf) {
  const absl::StatusOr<SlabGeometry> geometry =
      SlabGeometry::Create(JemallocTestHeader());
  ASSERT_TRUE(geometry.ok());
  for (uint32_t c = 0; c < static_cast<uint32_t>(geometry->nbins()); ++c) {
    const uint64_t size = geometry->region_size(c);
    for (uint64_t base : {uint64_t{0}, uint64_t{0x7f0000000000} + 4096}) {
      for (uint32_t k = 0; k < geometry->nregs(c); ++k) {
        uint64_t slab = 1;
        uint32_t region = 1;
        const uint64_t ptr = base + uint64_t{k} * size;
        ASSERT_TRUE(geometry->LocateRegion(ptr, c, &slab, &region))
            << "class " << c << " region " << k;
        ASSERT_EQ(slab, base);
        ASSERT_EQ(region, k);
        // One byte in: no region starts there.
        ASSERT_FALSE(geometry->LocateRegion(ptr + 1, c, &slab, &region));
      }
    }
  }
  uint64_t slab;
  uint32_t region;
  // Address 1024 is region 4 of a 1280-byte slab (4 * 1280 = 5120 = 4096 +
  // 1024), which would have to start below address 0.
  EXPECT_FALSE(geometry->LocateRegion(1024, 21, &slab, &region));
  EXPECT_EQ(geometry->GranuleOf(1024, 21), 0u);
  EXPECT_FALSE(geometry->LocateRegion(0x7f0000000000, 36, &slab, &region));
  EXPECT_FALSE(geometry->LocateRegion(0x7f0000000000, 9999, &slab, &region));
}

TEST(SlabGeometryTest, MisalignedPointersGiveZero) {
  const absl::StatusOr<SlabGeometry> geometry =
      SlabGeometry::Create(JemallocTestHeader());
  ASSERT_TRUE(geometry.ok());
  const uint64_t base = 0x7f0000000000;
  EXPECT_EQ(geometry->GranuleOf(base + 4, 0), 0u);     // 8-byte class.
  EXPECT_EQ(geometry->GranuleOf(base + 8, 1), 0u);     // 16-byte class.
  EXPECT_EQ(geometry->GranuleOf(base + 24, 3), 0u);    // 48 needs 16-aligned.
  EXPECT_EQ(geometry->GranuleOf(base + 128, 21), 0u);  // 1280: 256-aligned.
  EXPECT_EQ(geometry->GranuleOf(base, 9999), 0u);      // no such class.
}

TEST(SlabGeometryTest, LargeClassesRoundDownToThePage) {
  const absl::StatusOr<SlabGeometry> geometry =
      SlabGeometry::Create(JemallocTestHeader());
  ASSERT_TRUE(geometry.ok());
  EXPECT_FALSE(geometry->is_small(36));
  EXPECT_EQ(geometry->GranuleOf(0x7f0000001040, 36), 0x7f0000001000u);
  EXPECT_EQ(geometry->granule_bytes(36), 16384u);
  EXPECT_EQ(geometry->granule_bytes(21), 20480u);
}

TEST(SlabGeometryTest, LargeGranulesIncludeTheCacheObliviousPage) {
  TraceHeader header = JemallocTestHeader();
  header.set_large_extent_pad(4096);
  const absl::StatusOr<SlabGeometry> geometry = SlabGeometry::Create(header);
  ASSERT_TRUE(geometry.ok());
  EXPECT_EQ(geometry->granule_bytes(36), 16384u + 4096u);
  EXPECT_EQ(geometry->granule_bytes(21), 20480u);  // small: the slab only.
  EXPECT_EQ(geometry->GranuleOf(0x7f0000001040, 36), 0x7f0000001000u);
}

TEST(SlabGeometryTest, RefusesALargeExtentPadThatIsNotWholePages) {
  TraceHeader header = JemallocTestHeader();
  header.set_large_extent_pad(100);
  EXPECT_FALSE(SlabGeometry::Create(header).ok());
  header.set_large_extent_pad(uint64_t{1} << 40);
  EXPECT_FALSE(SlabGeometry::Create(header).ok());
}

TEST(SlabGeometryTest, ClassForSize) {
  const absl::StatusOr<SlabGeometry> geometry =
      SlabGeometry::Create(JemallocTestHeader());
  ASSERT_TRUE(geometry.ok());
  EXPECT_EQ(geometry->ClassForSize(0), 0u);
  EXPECT_EQ(geometry->ClassForSize(8), 0u);
  EXPECT_EQ(geometry->ClassForSize(9), 1u);
  EXPECT_EQ(geometry->ClassForSize(1025), 21u);
  EXPECT_EQ(geometry->ClassForSize(14337), 36u);
  EXPECT_EQ(geometry->ClassForSize(uint64_t{1} << 40),
            static_cast<uint32_t>(geometry->num_classes()));
}

TEST(SlabGeometryTest, RefusesSlabSizeOtherThanLcm) {
  TraceHeader header = JemallocTestHeader();
  // jemalloc with a custom slab_sizes option could give 1280 two pages.
  header.mutable_size_classes(21)->set_slab_size(8192);
  header.mutable_size_classes(21)->set_nregs(6);
  EXPECT_FALSE(SlabGeometry::Create(header).ok());
}

TEST(SlabGeometryTest, RefusesInconsistentTables) {
  {
    TraceHeader header = JemallocTestHeader();
    header.mutable_size_classes(5)->set_nregs(7);
    EXPECT_FALSE(SlabGeometry::Create(header).ok());
  }
  {
    TraceHeader header = JemallocTestHeader();
    header.set_page_size(5000);
    EXPECT_FALSE(SlabGeometry::Create(header).ok());
  }
  {
    TraceHeader header = JemallocTestHeader();
    header.set_nbins(1000);
    EXPECT_FALSE(SlabGeometry::Create(header).ok());
  }
  {
    TraceHeader header = JemallocTestHeader();
    header.mutable_size_classes(40)->set_nregs(1);
    EXPECT_FALSE(SlabGeometry::Create(header).ok());
  }
  {
    TraceHeader header = JemallocTestHeader();
    header.mutable_size_classes(3)->set_index(4);
    EXPECT_FALSE(SlabGeometry::Create(header).ok());
  }
}

}  // namespace
}  // namespace slabtrace
