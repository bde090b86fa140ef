#include "sim/comparison_output.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/testing/test_header.h"
#include "sim/compare.h"
#include "sim/testing/random_object_stream.h"

namespace slabtrace {
namespace {

using ::testing::HasSubstr;

Comparison SmallComparison(bool by_class, bool fidelity) {
  RandomStreamOptions random;
  random.events = 6000;
  random.phase_events = 2000;
  random.max_live = 1500;
  CompareOptions options;
  options.sim.by_class = by_class;
  options.fidelity = fidelity;
  absl::StatusOr<Comparison> comparison =
      Compare(RandomStreamFactory(JemallocTestHeader(), random), options);
  EXPECT_TRUE(comparison.ok()) << comparison.status();
  return *comparison;
}

size_t Fields(const std::string& line) {
  return std::count(line.begin(), line.end(), ',') + 1;
}

TEST(ComparisonOutputTest, CsvHasStableColumnsAndOneLinePerRow) {
  const Comparison comparison = SmallComparison(/*by_class=*/true, false);
  const std::string csv = FormatCsv(comparison);
  const std::vector<std::string> lines =
      absl::StrSplit(csv, '\n', absl::SkipEmpty());
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines[0], kCsvColumns);
  size_t expected = 1;
  for (const ComparisonSweep& sweep : comparison.sweeps()) {
    for (const PolicyRow& row : sweep.rows())
      expected += 1 + row.classes_size();
  }
  EXPECT_EQ(lines.size(), expected);
  for (const std::string& line : lines) {
    EXPECT_EQ(Fields(line), Fields(kCsvColumns)) << line;
  }
}

TEST(ComparisonOutputTest, TableListsEveryPolicyPerSweepAligned) {
  const Comparison comparison = SmallComparison(false, /*fidelity=*/true);
  const std::string table = FormatTable(comparison);
  const std::vector<std::string> lines = absl::StrSplit(table, '\n');
  // Header, then per sweep 8 policy rows and the packing bound.
  ASSERT_GT(lines.size(), 1 + comparison.sweeps_size() * 9u);
  const size_t policy_column = lines[0].find("policy");
  for (int i = 1; i <= comparison.sweeps_size() * 9; ++i) {
    EXPECT_NE(lines[i].substr(policy_column, 1), " ") << lines[i];
  }
  EXPECT_THAT(table, HasSubstr("shrink-1"));  // marker labels.
  EXPECT_THAT(table, HasSubstr("(packing bound)"));
  EXPECT_THAT(table, HasSubstr("KiB"));
  EXPECT_THAT(table, HasSubstr("fidelity: jemalloc vs recorded"));
}

TEST(ComparisonOutputTest, JsonKeepsProtoFieldNamesAndZeros) {
  const Comparison comparison = SmallComparison(false, false);
  absl::StatusOr<std::string> json = FormatJson(comparison);
  ASSERT_TRUE(json.ok());
  EXPECT_THAT(*json, HasSubstr("\"packing_bound_slabs\""));
  EXPECT_THAT(*json, HasSubstr("\"placement_conflicts\": \"0\""));
  EXPECT_THAT(*json, HasSubstr("\"policy\": \"oracle\""));
}

TEST(ComparisonOutputTest, OutputIsByteIdenticalAcrossRuns) {
  const Comparison a = SmallComparison(true, true);
  const Comparison b = SmallComparison(true, true);
  EXPECT_EQ(FormatTable(a), FormatTable(b));
  EXPECT_EQ(FormatCsv(a), FormatCsv(b));
  EXPECT_EQ(*FormatJson(a), *FormatJson(b));
}

}  // namespace
}  // namespace slabtrace
