#include "proto/internal/crc32c.h"

#include <cstring>
#include <string>

#include "gtest/gtest.h"

namespace slabtrace {
namespace internal {
namespace {

TEST(Crc32cTest, StandardCheckValue) {
  EXPECT_EQ(Crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(Crc32cExtendPortable(0, "123456789", 9), 0xE3069283u);
}

TEST(Crc32cTest, KnownVectors) {
  // RFC 3720 B.4: 32 bytes of zeros.
  const std::string zeros(32, '\0');
  EXPECT_EQ(Crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);
  const std::string ones(32, '\xff');
  EXPECT_EQ(Crc32c(ones.data(), ones.size()), 0x62A8AB43u);
  EXPECT_EQ(Crc32c("", 0), 0u);
}

TEST(Crc32cTest, ExtendMatchesOneShotAndPortable) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data.push_back(static_cast<char>(i * 37 + 11));
  const uint32_t whole = Crc32c(data.data(), data.size());
  for (size_t split : {0, 1, 7, 8, 9, 500, 999, 1000}) {
    uint32_t crc = Crc32cExtend(0, data.data(), split);
    crc = Crc32cExtend(crc, data.data() + split, data.size() - split);
    EXPECT_EQ(crc, whole) << split;
  }
  for (size_t n = 0; n <= 40; ++n) {  // every tail length of the fast path.
    EXPECT_EQ(Crc32c(data.data() + 3, n),
              Crc32cExtendPortable(0, data.data() + 3, n))
        << n;
  }
}

// Inputs of 3 KiB and more are taken as three interleaved streams joined
// by a shift: every length around the block multiples, at every alignment,
// must give the portable value.
TEST(Crc32cTest, LongInputsMatchPortable) {
  std::string data;
  for (int i = 0; i < 10000; ++i) {
    data.push_back(static_cast<char>(i * 2654435761u >> 13));
  }
  for (size_t n : {3071, 3072, 3073, 3080, 6143, 6144, 6151, 9216, 9999}) {
    for (size_t offset : {0, 1}) {
      EXPECT_EQ(Crc32c(data.data() + offset, n),
                Crc32cExtendPortable(0, data.data() + offset, n))
          << n << " at " << offset;
    }
  }
  const uint32_t whole = Crc32c(data.data(), data.size());
  uint32_t crc = Crc32cExtend(0, data.data(), 4000);
  EXPECT_EQ(Crc32cExtend(crc, data.data() + 4000, data.size() - 4000), whole);
}

}  // namespace
}  // namespace internal
}  // namespace slabtrace
