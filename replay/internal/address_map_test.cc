#include "replay/internal/address_map.h"

#include <cstdint>
#include <iterator>
#include <map>
#include <random>

#include "gtest/gtest.h"

namespace slabtrace {
namespace {

TEST(AddressMapTest, InsertFindErase) {
  AddressMap map;
  auto [value, inserted] = map.Insert(0x1000);
  EXPECT_TRUE(inserted);
  EXPECT_EQ(*value, 0u);
  *value = 7;
  EXPECT_FALSE(map.Insert(0x1000).second);
  EXPECT_EQ(*map.Find(0x1000), 7u);
  EXPECT_EQ(map.Find(0x2000), nullptr);
  map.Erase(map.Find(0x1000));
  EXPECT_EQ(map.Find(0x1000), nullptr);
  EXPECT_EQ(map.size(), 0u);
}

// Against std::map over a random mix with many collisions (keys from a
// small, aligned range) and growth.
TEST(AddressMapTest, MatchesStdMap) {
  AddressMap map;
  std::map<uint64_t, uint64_t> model;
  std::mt19937_64 random(42);
  for (int step = 0; step < 200000; ++step) {
    const uint64_t key = 0x7f0000000000 + (random() % 5000) * 16;
    if (random() % 3 == 0) {
      uint64_t* value = map.Find(key);
      ASSERT_EQ(value != nullptr, model.count(key) == 1) << step;
      if (value != nullptr) {
        ASSERT_EQ(*value, model[key]);
        map.Erase(value);
        model.erase(key);
      }
    } else {
      auto [value, inserted] = map.Insert(key);
      ASSERT_EQ(inserted, model.count(key) == 0) << step;
      *value = step;
      model[key] = step;
    }
    ASSERT_EQ(map.size(), model.size());
  }
  for (const auto& [key, value] : model) {
    ASSERT_NE(map.Find(key), nullptr);
    EXPECT_EQ(*map.Find(key), value);
  }
  EXPECT_LE(map.size(), map.capacity() / 8 * 5);
}

// Churn in the smallest table, up to 9 of 16 slots full, so probe runs
// wrap around the end of the slots and Erase's backward shift crosses it.
TEST(AddressMapTest, EraseAcrossTheWrapMatchesStdMap) {
  AddressMap map;
  std::map<uint64_t, uint64_t> model;
  std::mt19937_64 random(7);
  const size_t initial_capacity = map.capacity();
  for (int step = 0; step < 100000; ++step) {
    if (model.size() < 9 && random() % 2 == 0) {
      // Many keys, at most 9 live: collisions without growth.
      const uint64_t key = 0x7f0000000000 + (random() % 1000) * 16;
      auto [value, inserted] = map.Insert(key);
      ASSERT_EQ(inserted, model.count(key) == 0) << step;
      *value = step;
      model[key] = step;
    } else if (!model.empty()) {
      auto it = model.begin();
      std::advance(it, random() % model.size());
      uint64_t* value = map.Find(it->first);
      ASSERT_NE(value, nullptr) << step;
      ASSERT_EQ(*value, it->second) << step;
      map.Erase(value);
      model.erase(it);
    }
    ASSERT_EQ(map.size(), model.size());
    for (const auto& [key, value] : model) {
      ASSERT_NE(map.Find(key), nullptr) << step;
      ASSERT_EQ(*map.Find(key), value) << step;
    }
  }
  EXPECT_EQ(map.capacity(), initial_capacity);  // never grew.
}

// Big enough that the slots move from calloc to an anonymous mapping.
TEST(AddressMapTest, GrowsIntoMappedMemoryAndEmptiesAgain) {
  AddressMap map;
  constexpr uint64_t kKeys = 300000;
  for (uint64_t i = 1; i <= kKeys; ++i) *map.Insert(i * 48).first = i;
  EXPECT_GE(map.bytes(), size_t{2} << 20);
  for (uint64_t i = 1; i <= kKeys; ++i) {
    uint64_t* value = map.Find(i * 48);
    ASSERT_NE(value, nullptr) << i;
    ASSERT_EQ(*value, i);
    if (i % 2 == 0) map.Erase(value);
  }
  EXPECT_EQ(map.size(), kKeys / 2);
  for (uint64_t i = 1; i <= kKeys; ++i) {
    ASSERT_EQ(map.Find(i * 48) != nullptr, i % 2 == 1) << i;
  }
}

TEST(AddressMapTest, ReserveMakesRoomWithoutGrowingLater) {
  AddressMap map;
  map.Reserve(1000);
  const size_t capacity = map.capacity();
  EXPECT_GE(capacity * 5 / 8, 1000u);
  EXPECT_EQ(capacity, 2048u);  // the smallest power of two that holds it.
  for (uint64_t k = 1; k <= 1000; ++k) *map.Insert(k * 64).first = k;
  EXPECT_EQ(map.capacity(), capacity);
  // On a table with entries, it grows them along; never shrinks.
  map.Reserve(3000);
  EXPECT_GE(map.capacity() * 5 / 8, 3000u);
  map.Reserve(10);
  EXPECT_GE(map.capacity() * 5 / 8, 3000u);
  for (uint64_t k = 1; k <= 1000; ++k) {
    ASSERT_NE(map.Find(k * 64), nullptr);
    EXPECT_EQ(*map.Find(k * 64), k);
  }
  EXPECT_EQ(map.size(), 1000u);
}

}  // namespace
}  // namespace slabtrace
