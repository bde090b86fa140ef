#include "proto/internal/varint.h"

#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace slabtrace {
namespace internal {
namespace {

TEST(VarintTest, RoundTripsEveryLengthWithBothDecoders) {
  std::mt19937_64 rng(1);
  std::vector<uint64_t> values = {
      0,         1, 127, 128, 16383, 16384, ~0ull, 1ull << 63, (1ull << 56) - 1,
      1ull << 56};
  for (int i = 0; i < 10000; ++i) values.push_back(rng() >> (rng() % 64));
  std::vector<uint8_t> buffer(values.size() * kMaxVarintBytes);
  uint8_t* end = buffer.data();
  for (uint64_t v : values) end = PutVarint(end, v);
  const uint8_t* slow = buffer.data();
  const uint8_t* fast = buffer.data();
  for (uint64_t v : values) {
    uint64_t a = 0, b = 0;
    ASSERT_TRUE(GetVarint(&slow, end, &a));
    ASSERT_TRUE(GetVarintFast(&fast, end, &b));
    ASSERT_EQ(a, v);
    ASSERT_EQ(b, v);
    ASSERT_EQ(slow, fast);
  }
  EXPECT_EQ(fast, end);
}

TEST(VarintTest, OverrunAndOverlongAreRefused) {
  const uint8_t cut[] = {0x80, 0x80};
  const uint8_t* p = cut;
  uint64_t v;
  EXPECT_FALSE(GetVarint(&p, cut + 2, &v));
  p = cut;
  EXPECT_FALSE(GetVarintFast(&p, cut + 2, &v));
  // Eleven continuation bytes: longer than any 64-bit value.
  const uint8_t overlong[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                              0xff, 0xff, 0xff, 0xff, 0x01};
  p = overlong;
  EXPECT_FALSE(GetVarintFast(&p, overlong + sizeof(overlong), &v));
  // Ten bytes whose last carries more than bit 63.
  const uint8_t too_big[] = {0xff, 0xff, 0xff, 0xff, 0xff,
                             0xff, 0xff, 0xff, 0xff, 0x02};
  p = too_big;
  EXPECT_FALSE(GetVarint(&p, too_big + sizeof(too_big), &v));
  // A varint that stops after the column end even though bytes follow.
  const uint8_t spill[] = {0x81, 0x81, 0x01, 0, 0, 0, 0, 0, 0, 0};
  p = spill;
  EXPECT_FALSE(GetVarintFast(&p, spill + 2, &v));
}

TEST(VarintTest, ZigZag) {
  EXPECT_EQ(ZigZag(0), 0u);
  EXPECT_EQ(ZigZag(-1), 1u);
  EXPECT_EQ(ZigZag(1), 2u);
  for (int64_t v : {int64_t{-5}, int64_t{1} << 62, INT64_MIN, INT64_MAX}) {
    EXPECT_EQ(UnZigZag(ZigZag(v)), v);
  }
}

}  // namespace
}  // namespace internal
}  // namespace slabtrace
