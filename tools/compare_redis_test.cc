// `slabtrace compare` on a real trace: Debian's redis-server recorded by the
// real slabtrace binary (scatter-delete: keys written, odd keys deleted).
// Holds the jemalloc model's fidelity bound and the headroom the oracle and
// compact policies must show. RunRedis starts its own server on a free
// loopback port and stops it, on failure too.

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "replay/object_stream.h"
#include "sim/compare.h"
#include "tools/internal/command.h"
#include "tools/redis_command.h"

namespace slabtrace {
namespace {

// The achieved bound (sim/README.md, "Fidelity"): per marker and size class
// with at least 100 recorded slabs, jemalloc's pinned slabs within 2 % of
// the recorded ones. Smaller classes differ by the one warm slabcur each
// bin had before recording began.
constexpr double kMaxFidelityError = 0.02;
constexpr uint64_t kFidelityMinSlabs = 100;

std::string RecordScatterDelete() {
  const std::string trace =
      absl::StrCat(std::getenv("TEST_TMPDIR"), "/scatter-delete.slabtrace");
  const std::string slabtrace =
      absl::StrCat(std::getenv("TEST_SRCDIR"), "/slabtrace/tools/slabtrace");
  ::testing::internal::CaptureStdout();
  const int code =
      RunRedis({"scatter-delete", "--keys=20000", "--value-size=1024",
                "--policies=recorded", "-o", trace, "--slabtrace", slabtrace});
  ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(code, kExitOk);
  return trace;
}

const PolicyRow& Row(const ComparisonSweep& sweep, const std::string& name) {
  for (const PolicyRow& row : sweep.rows()) {
    if (row.policy() == name) return row;
  }
  ADD_FAILURE() << "no row " << name;
  return sweep.rows(0);
}

TEST(CompareRedisTest, ScatterDeleteFidelityAndHeadroom) {
  const std::string trace = RecordScatterDelete();
  CompareOptions options;
  options.fidelity = true;
  options.fidelity_min_slabs = kFidelityMinSlabs;
  absl::StatusOr<Comparison> comparison =
      Compare([&trace] { return OpenObjectStream(trace); }, options);
  ASSERT_TRUE(comparison.ok()) << comparison.status();

  EXPECT_LE(comparison->fidelity().max_abs_relative_difference(),
            kMaxFidelityError);
  EXPECT_LE(comparison->fidelity().weighted_abs_relative_difference(),
            kMaxFidelityError);

  int deleted = 0;
  for (const ComparisonSweep& sweep : comparison->sweeps()) {
    if (sweep.label() != "deleted") continue;
    ++deleted;
    ASSERT_EQ(sweep.rows_size(), 8);
    const PolicyRow& recorded = Row(sweep, "recorded");
    EXPECT_GT(recorded.pinned_slabs(), 1000u);
    EXPECT_LE(recorded.dsr(), 0.02);
    EXPECT_LE(Row(sweep, "jemalloc").dsr(), 0.02);
    EXPECT_LE(Row(sweep, "first-fit").dsr(), 0.02);
    EXPECT_GE(Row(sweep, "oracle").dsr(), 0.45);
    EXPECT_LE(Row(sweep, "compact").footprint_bytes(),
              recorded.footprint_bytes() * 0.55);
    EXPECT_EQ(Row(sweep, "compact").footprint_bytes(),
              sweep.packing_bound_bytes());
  }
  EXPECT_EQ(deleted, 1);
}

}  // namespace
}  // namespace slabtrace
