#include "replay/object_stream.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "replay/internal/test_trace.h"

namespace slabtrace {
namespace {

constexpr uint64_t kHeap = 0x7f0000000000;

std::vector<ObjectEvent> ReadAll(ObjectStream& stream,
                                 std::vector<std::string>* labels) {
  std::vector<ObjectEvent> events;
  ObjectEvent e;
  while (true) {
    absl::StatusOr<bool> more = stream.Next(&e);
    EXPECT_TRUE(more.ok()) << more.status();
    if (!more.ok() || !*more) break;
    if (e.kind == ObjectEvent::Kind::kMarker) {
      labels->push_back(e.marker->label());
    }
    events.push_back(e);
  }
  return events;
}

TEST(ObjectStreamTest, GivesObjectLifetimes) {
  const std::string path = TestPath("object_stream.slabtrace");
  TestTrace trace(path);
  const SlabGeometry& g = trace.geometry();
  const uint32_t c64 = g.ClassForSize(64);
  const uint32_t c2048 = g.ClassForSize(2048);
  const uint32_t large = g.ClassForSize(20000);
  const uint32_t larger = g.ClassForSize(30000);
  trace.Alloc(kHeap, c64, 50, /*thread=*/3);  // seq 0: object 0
  trace.Free(kHeap + 4096, c64);              // seq 1: unknown, skipped
  trace.Mark("m");
  trace.Alloc(kHeap + 0x100000, c2048);           // seq 2: realloc moves 0...
  trace.Free(kHeap, c64);                         // seq 3: ...ending object 0
  trace.Alloc(kHeap + 0x200000, large, 20000);    // seq 4: object 4
  trace.Resize(kHeap + 0x200000, larger, 30000);  // seq 5: in place
  trace.Alloc(kHeap + 0x100000, c2048);           // seq 6: live address again
  trace.Close();

  absl::StatusOr<std::unique_ptr<ObjectStream>> stream = OpenObjectStream(path);
  ASSERT_TRUE(stream.ok()) << stream.status();
  std::vector<std::string> labels;
  const std::vector<ObjectEvent> events = ReadAll(**stream, &labels);
  ASSERT_EQ(events.size(), 8u);
  using Kind = ObjectEvent::Kind;
  EXPECT_EQ(events[0].kind, Kind::kAlloc);
  EXPECT_EQ(events[0].object_id, 0u);
  EXPECT_EQ(events[0].size, 50u);
  EXPECT_EQ(events[0].thread, 3u);
  EXPECT_EQ(events[0].size_class, c64);
  EXPECT_EQ(events[0].recorded_slab, g.GranuleOf(kHeap, c64));
  EXPECT_EQ(events[1].kind, Kind::kMarker);
  EXPECT_EQ(events[1].seq, 2u);
  EXPECT_EQ(labels, std::vector<std::string>{"m"});
  EXPECT_EQ(events[2].kind, Kind::kAlloc);
  EXPECT_EQ(events[2].object_id, 2u);
  EXPECT_EQ(events[3].kind, Kind::kFree);
  EXPECT_EQ(events[3].object_id, 0u);
  EXPECT_EQ(events[3].size_class, c64);
  EXPECT_EQ(events[4].object_id, 4u);
  EXPECT_EQ(events[5].kind, Kind::kResize);
  EXPECT_EQ(events[5].object_id, 4u);
  EXPECT_EQ(events[5].old_size_class, large);
  EXPECT_EQ(events[5].size_class, larger);
  EXPECT_EQ(events[5].size, 30000u);
  // The second alloc at a live address ends the first object, then starts
  // the new one.
  EXPECT_EQ(events[6].kind, Kind::kFree);
  EXPECT_EQ(events[6].object_id, 2u);
  EXPECT_EQ(events[7].kind, Kind::kAlloc);
  EXPECT_EQ(events[7].object_id, 6u);
  EXPECT_EQ(events[7].recorded_region, g.RegionOf(kHeap + 0x100000, c2048));
  EXPECT_EQ((*stream)->unknown_frees(), 1u);
}

TEST(ObjectStreamTest, MissingFileIsAnError) {
  EXPECT_FALSE(OpenObjectStream(TestPath("does-not-exist.slabtrace")).ok());
}

}  // namespace
}  // namespace slabtrace
