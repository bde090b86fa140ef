#include "record/internal/slot_ring.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace slabtrace {
namespace record_internal {
namespace {

int crowded_calls = 0;
void CountCrowded() { ++crowded_calls; }

class SlotRingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    crowded_calls = 0;
    ring_.Init(slots_.data(), kCapacity, &CountCrowded);
  }
  // Takes and publishes one slot; false when the ring is full.
  bool Produce(uint64_t ticket) {
    Slot* slot = ring_.NextFree();
    if (slot == nullptr) return false;
    slot->ticket = ticket;
    ring_.Publish();
    return true;
  }

  static constexpr uint32_t kCapacity = 64;
  std::vector<Slot> slots_ = std::vector<Slot>(kCapacity);
  SlotRing ring_;
};

TEST_F(SlotRingTest, SlotsComeOutInOrderAndTheRingFills) {
  uint64_t ticket = 0;
  while (Produce(ticket)) ++ticket;
  EXPECT_EQ(ticket, kCapacity);
  for (uint64_t expected = 0; expected < kCapacity; ++expected) {
    const Slot* slot = ring_.Front();
    ASSERT_NE(slot, nullptr);
    EXPECT_EQ(slot->ticket, expected);
    ring_.Pop();
  }
  EXPECT_EQ(ring_.Front(), nullptr);
  // Popped slots return to the producer only on Commit.
  EXPECT_FALSE(Produce(ticket));
  ring_.Commit();
  EXPECT_TRUE(ring_.Empty());
  EXPECT_TRUE(Produce(ticket));
}

// The writer refreshes once per pass: Peek() sees what was published up to
// the last Refresh() (or Front() that ran out), not what came after.
TEST_F(SlotRingTest, PeekSeesOnlyWhatWasPublishedBeforeTheRefresh) {
  EXPECT_EQ(ring_.Peek(), nullptr);
  ASSERT_TRUE(Produce(0));
  ASSERT_TRUE(Produce(1));
  EXPECT_EQ(ring_.Peek(), nullptr);  // not refreshed yet.
  ring_.Refresh();
  ASSERT_TRUE(Produce(2));
  for (uint64_t expected : {0, 1}) {
    const Slot* slot = ring_.Peek();
    ASSERT_NE(slot, nullptr);
    EXPECT_EQ(slot->ticket, expected);
    ring_.Pop();
  }
  EXPECT_EQ(ring_.Peek(), nullptr);  // 2 came after the refresh.
  const Slot* slot = ring_.Front();  // refreshes when it runs out.
  ASSERT_NE(slot, nullptr);
  EXPECT_EQ(slot->ticket, 2u);
  ring_.Pop();
  EXPECT_EQ(ring_.Front(), nullptr);
}

TEST_F(SlotRingTest, CrowdedIsCalledFromThreeQuartersFullOn) {
  // 48 of 64 slots in use is three quarters: not yet crowded.
  for (uint64_t t = 0; t < 48; ++t) ASSERT_TRUE(Produce(t));
  EXPECT_EQ(crowded_calls, 0);
  ASSERT_TRUE(Produce(48));
  EXPECT_EQ(crowded_calls, 1);
  ASSERT_TRUE(Produce(49));
  EXPECT_EQ(crowded_calls, 2);  // on every call while crowded.
  // Once the consumer has caught up, the producer is not crowded again
  // until more than three quarters are in use again.
  while (ring_.Front() != nullptr) ring_.Pop();
  ring_.Commit();
  const int before = crowded_calls;
  for (uint64_t t = 50; t < 50 + 48; ++t) ASSERT_TRUE(Produce(t));
  EXPECT_EQ(crowded_calls, before);
  ASSERT_TRUE(Produce(98));
  EXPECT_EQ(crowded_calls, before + 1);
}

TEST_F(SlotRingTest, FullRingIsCrowdedAndRefusesSlots) {
  for (uint64_t t = 0; t < kCapacity; ++t) ASSERT_TRUE(Produce(t));
  const int before = crowded_calls;
  EXPECT_FALSE(Produce(kCapacity));
  EXPECT_EQ(crowded_calls, before + 1);
}

}  // namespace
}  // namespace record_internal
}  // namespace slabtrace
