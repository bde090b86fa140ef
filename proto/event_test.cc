#include "proto/event.h"

#include <set>
#include <string>

#include "gtest/gtest.h"

namespace slabtrace {
namespace {

TEST(EventTest, KindNamesAreDistinctAndStable) {
  EXPECT_EQ(EventKindName(EventKind::kAlloc), "alloc");
  EXPECT_EQ(EventKindName(EventKind::kFree), "free");
  EXPECT_EQ(EventKindName(EventKind::kResize), "resize");
}

TEST(EventTest, ApiNamesAreDistinctLowerCase) {
  std::set<std::string> names;
  for (int i = 0; i < kNumAllocApis; ++i) {
    const std::string name(AllocApiName(static_cast<AllocApi>(i)));
    for (char c : name) EXPECT_TRUE(c == '_' || (c >= 'a' && c <= 'z')) << name;
    names.insert(name);
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(kNumAllocApis));
  EXPECT_EQ(AllocApiName(AllocApi::kOperatorNew), "operator_new");
  EXPECT_EQ(AllocApiName(AllocApi::kPosixMemalign), "posix_memalign");
}

TEST(EventTest, EqualityComparesEveryField) {
  Event a;
  a.seq = 1;
  a.time_ns = 2;
  a.ptr = 3;
  a.size = 4;
  a.slab = 5;
  a.thread = 6;
  a.size_class = 7;
  a.kind = EventKind::kFree;
  a.api = AllocApi::kFree;
  Event b = a;
  EXPECT_EQ(a, b);
  b.slab = 0;
  EXPECT_NE(a, b);
  b = a;
  b.api = AllocApi::kDallocx;
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace slabtrace
