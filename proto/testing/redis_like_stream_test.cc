#include "proto/testing/redis_like_stream.h"

#include <map>

#include "absl/container/flat_hash_map.h"
#include "gtest/gtest.h"
#include "proto/slab_geometry.h"
#include "proto/testing/test_header.h"

namespace slabtrace {
namespace {

TEST(RedisLikeStreamTest, SameSeedSameStreamOtherSeedOtherStream) {
  const TraceHeader header = JemallocTestHeader();
  RedisLikeStream a(header, {.seed = 7});
  RedisLikeStream b(header, {.seed = 7});
  RedisLikeStream c(header, {.seed = 8});
  int differences = 0;
  for (int i = 0; i < 20000; ++i) {
    Event ea, eb, ec;
    a.Next(&ea);
    b.Next(&eb);
    c.Next(&ec);
    ASSERT_EQ(ea, eb) << i;
    differences += ea != ec;
  }
  EXPECT_GT(differences, 1000);
}

TEST(RedisLikeStreamTest, PointersAreConsistentWithSlabsAndLiveOnce) {
  const TraceHeader header = JemallocTestHeader();
  const SlabGeometry geometry = *SlabGeometry::Create(header);
  RedisLikeStream stream(header, {.seed = 3, .max_live_objects = 5000});
  absl::flat_hash_map<uint64_t, uint16_t> live;  // ptr -> class
  std::map<uint32_t, uint64_t> by_thread;
  uint64_t allocs = 0, frees = 0, resizes = 0, large = 0;
  for (uint64_t i = 0; i < 300000; ++i) {
    Event e;
    ASSERT_TRUE(stream.Next(&e));
    ASSERT_EQ(e.seq, i);
    ASSERT_EQ(e.slab, geometry.GranuleOf(e.ptr, e.size_class));
    ASSERT_NE(e.slab, 0u);
    ++by_thread[e.thread];
    switch (e.kind) {
      case EventKind::kAlloc:
        ++allocs;
        large += !geometry.is_small(e.size_class);
        ASSERT_LE(e.size, geometry.region_size(e.size_class));
        ASSERT_TRUE(live.emplace(e.ptr, e.size_class).second)
            << "pointer live twice at seq " << i;
        break;
      case EventKind::kFree: {
        ++frees;
        auto it = live.find(e.ptr);
        ASSERT_NE(it, live.end()) << "free of a dead pointer at seq " << i;
        ASSERT_EQ(it->second, e.size_class);
        live.erase(it);
        break;
      }
      case EventKind::kResize:
        ++resizes;
        ASSERT_EQ(live.at(e.ptr), e.size_class);
        break;
    }
  }
  EXPECT_GT(resizes, 100u);
  EXPECT_GT(large, 100u);
  EXPECT_NEAR(static_cast<double>(frees) / allocs, 1.0, 0.05);
  // The main thread dominates; background threads exist.
  EXPECT_GT(by_thread[0], 280000u);
  EXPECT_GE(by_thread.size(), 3u);
  // Memory stays bounded by the key space.
  EXPECT_LT(live.size(), 5000u + 400u);
  // The generator is a command ahead of the events handed out.
  EXPECT_NEAR(static_cast<double>(stream.live_objects()), live.size(), 400);
}

}  // namespace
}  // namespace slabtrace
