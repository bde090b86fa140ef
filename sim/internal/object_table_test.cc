#include "sim/internal/object_table.h"

#include <cstdint>
#include <map>
#include <random>

#include "gtest/gtest.h"

namespace slabtrace {
namespace sim_internal {
namespace {

TEST(ObjectTableTest, InsertFindUpdateTake) {
  ObjectTable table;
  uint64_t value = 0;
  EXPECT_FALSE(table.Find(7, &value));
  table.Insert(7, 70);
  table.Insert(8, 80);
  EXPECT_EQ(table.size(), 2u);
  ASSERT_TRUE(table.Find(7, &value));
  EXPECT_EQ(value, 70u);
  table.Update(7, 71);
  ASSERT_TRUE(table.Take(7, &value));
  EXPECT_EQ(value, 71u);
  EXPECT_FALSE(table.Take(7, &value));
  EXPECT_FALSE(table.Find(7, &value));
  ASSERT_TRUE(table.Find(8, &value));
  EXPECT_EQ(value, 80u);
  EXPECT_EQ(table.size(), 1u);
}

// ~0 is the slots' empty marker; as an id (only a corrupt trace has it) it
// must still behave like any other id, and never be found when absent.
TEST(ObjectTableTest, MaxIdIsAnOrdinaryId) {
  ObjectTable table;
  const uint64_t max_id = ~uint64_t{0};
  uint64_t value = 0;
  EXPECT_FALSE(table.Find(max_id, &value));
  EXPECT_FALSE(table.Take(max_id, &value));
  table.Insert(max_id, 5);
  EXPECT_EQ(table.size(), 1u);
  ASSERT_TRUE(table.Find(max_id, &value));
  EXPECT_EQ(value, 5u);
  table.Update(max_id, 6);
  ASSERT_TRUE(table.Take(max_id, &value));
  EXPECT_EQ(value, 6u);
  EXPECT_FALSE(table.Find(max_id, &value));
  EXPECT_EQ(table.size(), 0u);
}

// Against std::map over random traffic shaped like the simulator's
// (increasing ids, frees of young and of random old objects), through
// many growths, so deletion by backward shift is exercised on long probe
// runs and across the wrap-around.
TEST(ObjectTableTest, MatchesMapUnderRandomTraffic) {
  ObjectTable table;
  std::map<uint64_t, uint64_t> expected;
  std::mt19937_64 random(42);
  uint64_t next_id = 0;
  for (int step = 0; step < 300000; ++step) {
    const uint64_t roll = random() % 8;
    if (expected.empty() || roll < 5) {
      const uint64_t id = next_id;
      next_id += 1 + random() % 3;
      table.Insert(id, id * 3 + 1);
      expected[id] = id * 3 + 1;
    } else {
      auto it = roll == 5 ? std::prev(expected.end()) : expected.begin();
      if (roll == 7) {
        it = expected.lower_bound(random() % next_id);
        if (it == expected.end()) it = expected.begin();
      }
      uint64_t value = 0;
      ASSERT_TRUE(table.Take(it->first, &value)) << "id " << it->first;
      ASSERT_EQ(value, it->second);
      expected.erase(it);
    }
    if (step % 1000 == 0) {
      // A few ids that were never inserted or are gone.
      uint64_t value = 0;
      EXPECT_FALSE(table.Find(next_id, &value));
      EXPECT_FALSE(table.Find(next_id + 12345, &value));
    }
  }
  ASSERT_EQ(table.size(), expected.size());
  for (const auto& [id, want] : expected) {
    uint64_t value = 0;
    ASSERT_TRUE(table.Find(id, &value)) << "id " << id;
    EXPECT_EQ(value, want);
  }
}

}  // namespace
}  // namespace sim_internal
}  // namespace slabtrace
