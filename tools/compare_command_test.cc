// `slabtrace compare` end to end on a real trace file: the eight policies,
// formats, thread-count independence, fidelity gate and bad input.

#include "tools/compare_command.h"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "replay/internal/test_trace.h"
#include "tools/internal/command.h"

namespace slabtrace {
namespace {

using ::testing::HasSubstr;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// The scatter-delete pattern: 64 slabs of the 1280-byte class filled in
// address order, then every other object freed.
std::string WriteScatterDelete() {
  const std::string path = TestPath("scatter.slabtrace");
  TestTrace trace(path);
  const SlabGeometry& g = trace.geometry();
  const uint32_t c = g.ClassForSize(1280);
  const uint64_t base = uint64_t{1} << 36;
  std::vector<uint64_t> ptrs;
  for (uint32_t slab = 0; slab < 64; ++slab) {
    for (uint32_t r = 0; r < g.nregs(c); ++r) {
      ptrs.push_back(base + slab * g.slab_size(c) + r * g.region_size(c));
      trace.Alloc(ptrs.back(), c, 1200);
    }
  }
  trace.Mark("loaded");
  for (size_t i = 1; i < ptrs.size(); i += 2) trace.Free(ptrs[i], c);
  trace.Mark("deleted");
  trace.Close();
  return path;
}

class CompareCommandTest : public ::testing::Test {
 protected:
  void SetUp() override { trace_ = WriteScatterDelete(); }

  // Runs with `args` plus -o OUT; returns OUT's content and the exit code.
  std::string Run(std::vector<std::string> args, int* code = nullptr) {
    const std::string out = TestPath("out" + std::to_string(runs_++));
    args.insert(args.begin(), trace_);
    args.push_back("-o");
    args.push_back(out);
    const int exit_code = RunCompare(args);
    if (code != nullptr) {
      *code = exit_code;
    } else {
      EXPECT_EQ(exit_code, kExitOk);
    }
    return ReadFile(out);
  }

  std::string trace_;
  int runs_ = 0;
};

TEST_F(CompareCommandTest, TablePrintsTheEightPoliciesPerSweep) {
  const std::string table = Run({});
  for (const char* policy : {"recorded", "jemalloc", "first-fit", "best-fit",
                             "worst-fit", "temporal", "oracle", "compact"}) {
    EXPECT_THAT(table, HasSubstr(policy));
  }
  EXPECT_THAT(table, HasSubstr("deleted"));
  EXPECT_THAT(table, HasSubstr("(packing bound)"));
}

// Splits the CSV into rows of fields, keyed "label/policy".
std::vector<std::vector<std::string>> CsvRows(const std::string& csv) {
  std::vector<std::vector<std::string>> rows;
  for (absl::string_view line : absl::StrSplit(csv, '\n', absl::SkipEmpty())) {
    rows.push_back(absl::StrSplit(line, ','));
  }
  return rows;
}

TEST_F(CompareCommandTest, OracleFindsTheHeadroomJemallocDoesNot) {
  const auto rows = CsvRows(Run({"--format=csv"}));
  ASSERT_GT(rows.size(), 1u);
  ASSERT_EQ(rows[0][3], "label");
  ASSERT_EQ(rows[0][7], "dsr");
  int checked = 0;
  for (const auto& row : rows) {
    if (row[3] != "deleted") continue;
    const double dsr = std::stod(row[7]);
    if (row[5] == "oracle") {
      EXPECT_GE(dsr, 0.45);
      ++checked;
    }
    if (row[5] == "jemalloc" || row[5] == "recorded") {
      EXPECT_EQ(dsr, 0.0) << row[5];
      ++checked;
    }
  }
  EXPECT_EQ(checked, 3);
}

TEST_F(CompareCommandTest, OutputDoesNotDependOnThreads) {
  for (const std::string format : {"table", "csv", "json"}) {
    const std::string one = Run({"--format", format, "--threads=1",
                                 "--by-class", "--timeline", "--every=300"});
    const std::string many = Run({"--format", format, "--threads=8",
                                  "--by-class", "--timeline", "--every=300"});
    EXPECT_EQ(one, many) << format;
    EXPECT_FALSE(one.empty());
  }
}

TEST_F(CompareCommandTest, FidelityGate) {
  int code = -1;
  const std::string table =
      Run({"--policies=recorded,jemalloc", "--max-fidelity-error=0.02"}, &code);
  EXPECT_EQ(code, kExitOk);
  EXPECT_THAT(table, HasSubstr("fidelity: jemalloc vs recorded"));
}

TEST_F(CompareCommandTest, BadInputExitsTwo) {
  int code = -1;
  Run({"--policies=recorded,buddy"}, &code);
  EXPECT_EQ(code, kExitBadInput);
  Run({"--slab-scale=0"}, &code);
  EXPECT_EQ(code, kExitBadInput);
  Run({"--format=xml"}, &code);
  EXPECT_EQ(code, kExitBadInput);
  EXPECT_EQ(RunCompare({TestPath("missing.slabtrace")}), kExitBadInput);
}

}  // namespace
}  // namespace slabtrace
