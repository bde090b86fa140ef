#include "record/internal/realloc_placement.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/event.h"

namespace slabtrace {
namespace record_internal {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

Event Alloc(uint64_t ptr) {
  Event e;
  e.kind = EventKind::kAlloc;
  e.ptr = ptr;
  return e;
}

Event Free(uint64_t ptr) {
  Event e;
  e.kind = EventKind::kFree;
  e.ptr = ptr;
  return e;
}

// Records what comes out as "alloc 0x..", "free 0x..", "marker N".
class RecordingOutput : public ReallocPlacement::Output {
 public:
  void EmitEvent(const Event& event) override {
    out.push_back(
        absl::StrCat(event.kind == EventKind::kFree ? "free " : "alloc ",
                     absl::Hex(event.ptr)));
  }
  void EmitMarker() override {
    out.push_back(absl::StrCat("marker ", markers++));
  }

  // The first event that contradicts `live` (the blocks live before the
  // first event): an allocation of a live block or a free of a dead one.
  std::string FirstInconsistency(absl::flat_hash_set<std::string> live) const {
    for (const std::string& item : out) {
      if (item.rfind("alloc ", 0) == 0) {
        if (!live.insert(item.substr(6)).second) return item;
      } else if (item.rfind("free ", 0) == 0) {
        if (live.erase(item.substr(5)) == 0) return item;
      }
    }
    return "";
  }

  std::vector<std::string> out;
  int markers = 0;
};

TEST(ReallocPlacementTest, IdleEmitsAtOnceInOrder) {
  RecordingOutput output;
  ReallocPlacement placement(&output);
  EXPECT_TRUE(placement.idle());
  placement.AddEvent(Alloc(0x10));
  placement.AddMarker();
  placement.AddEvent(Free(0x10));
  EXPECT_THAT(output.out, ElementsAre("alloc 10", "marker 0", "free 10"));
  EXPECT_TRUE(placement.idle());
}

TEST(ReallocPlacementTest, MoveWaitsForItsContinuationAndHoldsBackTheRest) {
  RecordingOutput output;
  ReallocPlacement placement(&output);
  placement.AddMove(1, Alloc(0x20), Free(0x10));
  EXPECT_FALSE(placement.idle());
  placement.AddEvent(Alloc(0x30));
  placement.AddMarker();
  EXPECT_THAT(output.out, IsEmpty());
  placement.Resolve(1);
  EXPECT_THAT(output.out,
              ElementsAre("alloc 20", "free 10", "alloc 30", "marker 0"));
  EXPECT_TRUE(placement.idle());
}

TEST(ReallocPlacementTest, UnknownContinuationIsIgnored) {
  RecordingOutput output;
  ReallocPlacement placement(&output);
  placement.AddMove(5, Alloc(0x20), Free(0x10));
  placement.Resolve(4);
  EXPECT_THAT(output.out, IsEmpty());
  placement.Resolve(5);
  EXPECT_THAT(output.out, ElementsAre("alloc 20", "free 10"));
}

TEST(ReallocPlacementTest, FinishEmitsUnresolvedMovesWhereTheyStand) {
  RecordingOutput output;
  ReallocPlacement placement(&output);
  placement.AddMove(1, Alloc(0x20), Free(0x10));
  placement.AddEvent(Alloc(0x30));
  placement.Finish();
  EXPECT_THAT(output.out, ElementsAre("alloc 20", "free 10", "alloc 30"));
  EXPECT_TRUE(placement.idle());
  placement.AddEvent(Free(0x30));
  EXPECT_EQ(output.out.back(), "free 30");
}

// realloc(p) -> q on one thread. In its window another thread frees q (an
// earlier block at that address) and a third reuses p. In ticket order the
// writer sees: the move (T1), free q, alloc p, the continuation (T2).
TEST(ReallocPlacementTest, MoveFollowsAFreeOfItsNewBlock) {
  RecordingOutput output;
  ReallocPlacement placement(&output);
  placement.AddMove(1, Alloc(0x200), Free(0x100));
  placement.AddEvent(Free(0x200));
  placement.AddEvent(Alloc(0x100));
  placement.Resolve(1);
  EXPECT_THAT(output.out,
              ElementsAre("free 200", "alloc 200", "free 100", "alloc 100"));
  EXPECT_EQ(output.FirstInconsistency({"100", "200"}), "");
}

// Two reallocs in flight: X moves p -> q, and B, whose T1 comes after X's,
// moves q -> r, freeing q before X gets it. B's pair must come first.
TEST(ReallocPlacementTest, MoveFollowsTheOldBlockOfAnotherMove) {
  RecordingOutput output;
  ReallocPlacement placement(&output);
  placement.AddMove(1, Alloc(0x200), Free(0x100));  // X: p -> q.
  placement.AddMove(2, Alloc(0x300), Free(0x200));  // B: q -> r.
  placement.Resolve(2);
  placement.Resolve(1);
  EXPECT_THAT(output.out,
              ElementsAre("alloc 300", "free 200", "alloc 200", "free 100"));
  EXPECT_EQ(output.FirstInconsistency({"100", "200"}), "");
}

// The same, and an earlier block at r is freed in B's window: B moves
// behind that free, and X must move behind B again.
TEST(ReallocPlacementTest, MovesFollowEachOtherAlongAChain) {
  RecordingOutput output;
  ReallocPlacement placement(&output);
  placement.AddMove(1, Alloc(0x200), Free(0x100));  // X: p -> q.
  placement.AddMove(2, Alloc(0x300), Free(0x200));  // B: q -> r.
  placement.AddEvent(Free(0x300));                  // the old r.
  placement.Resolve(2);
  placement.Resolve(1);
  EXPECT_THAT(output.out, ElementsAre("free 300", "alloc 300", "free 200",
                                      "alloc 200", "free 100"));
  EXPECT_EQ(output.FirstInconsistency({"100", "200", "300"}), "");
}

// Moves whose blocks form a cycle are not a possible history; placement
// still terminates and emits every event once.
TEST(ReallocPlacementTest, CyclicMovesTerminate) {
  RecordingOutput output;
  ReallocPlacement placement(&output);
  placement.AddMove(1, Alloc(0x200), Free(0x100));
  placement.AddMove(2, Alloc(0x100), Free(0x200));
  placement.AddEvent(Free(0x100));
  placement.Resolve(1);
  placement.Resolve(2);
  placement.Finish();
  EXPECT_EQ(output.out.size(), 5u);
  EXPECT_TRUE(placement.idle());
}

}  // namespace
}  // namespace record_internal
}  // namespace slabtrace
