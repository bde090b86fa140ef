// `slabtrace replay` end to end: flags, the three formats, byte-identical
// output across runs, bad input, and golden outputs in testdata/golden/.
//
// To regenerate the golden files after an intended output change:
//   SLABTRACE_UPDATE_GOLDEN=1 bazel run //tools:replay_command_test
// (bazel run sets BUILD_WORKSPACE_DIRECTORY, where the files are written),
// then review the diff.

#include "tools/replay_command.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

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

// "" when equal, else the first line that differs, both ways.
std::string FirstDifference(const std::string& actual,
                            const std::string& expected) {
  if (actual == expected) return "";
  std::istringstream a(actual), e(expected);
  std::string line_a, line_e;
  for (int line = 1;; ++line) {
    const bool more_a = static_cast<bool>(std::getline(a, line_a));
    const bool more_e = static_cast<bool>(std::getline(e, line_e));
    if (!more_a && !more_e) return "differ in the final newline";
    if (line_a != line_e || more_a != more_e) {
      return "line " + std::to_string(line) +
             ":\n  actual:   " + (more_a ? line_a : "<end>") +
             "\n  expected: " + (more_e ? line_e : "<end>");
    }
  }
}

// A small Redis-like run, the same bytes every time: keys are a 64-byte
// header plus a 1280-byte value (some values large), placed lowest-free-
// region first; then half the keys are deleted. Markers carry jemalloc-like
// statistics with a few regions parked in thread caches.
class SyntheticRun {
 public:
  explicit SyntheticRun(const std::string& path) : trace_(path) {
    const SlabGeometry& g = trace_.geometry();
    classes_ = {g.ClassForSize(64), g.ClassForSize(1280)};
    large_ = g.ClassForSize(40000);
  }

  void Write() {
    std::vector<uint64_t> headers, values;
    for (int key = 0; key < 300; ++key) {
      headers.push_back(Allocate(0, key % 2));
      values.push_back(Allocate(1, key % 2));
    }
    const uint64_t big = uint64_t{1} << 40;
    trace_.Alloc(big + 0x80, large_, 40000);
    large_live_ = true;
    trace_.Free(0x5000, classes_[0]);  // allocated before recording
    Mark("loaded");
    for (int key = 1; key < 300; key += 2) {
      Release(0, headers[key]);
      Release(1, values[key]);
    }
    trace_.Free(big + 0x80, large_);
    large_live_ = false;
    Mark("deleted");
    for (int key = 0; key < 40; ++key) Allocate(1, 0);
    trace_.Close();
  }

 private:
  static constexpr uint64_t kBase = uint64_t{1} << 36;

  uint64_t Allocate(int which, uint32_t thread) {
    const SlabGeometry& g = trace_.geometry();
    const uint32_t c = classes_[which];
    const uint64_t slots_per_area = 1 << 20;
    uint64_t slot = 0;
    while (used_[which].count(slot)) ++slot;
    used_[which].insert(slot);
    const uint64_t slab = slot / g.nregs(c);
    const uint64_t ptr = kBase * (which + 1) + slab * g.slab_size(c) +
                         (slot % g.nregs(c)) * g.region_size(c);
    EXPECT_LT(slot, slots_per_area);
    trace_.Alloc(ptr, c, g.region_size(c) - 7, thread);
    return ptr;
  }

  void Release(int which, uint64_t ptr) {
    const SlabGeometry& g = trace_.geometry();
    const uint32_t c = classes_[which];
    const uint64_t offset = ptr - kBase * (which + 1);
    const uint64_t slot = offset / g.slab_size(c) * g.nregs(c) +
                          offset % g.slab_size(c) / g.region_size(c);
    used_[which].erase(slot);
    trace_.Free(ptr, c, static_cast<uint32_t>(slot % 2));
  }

  void Mark(const std::string& label) {
    const SlabGeometry& g = trace_.geometry();
    AllocatorStats stats;
    stats.set_threads(2);
    for (int which = 0; which < 2; ++which) {
      const uint32_t c = classes_[which];
      std::set<uint64_t> slabs;
      for (uint64_t slot : used_[which]) slabs.insert(slot / g.nregs(c));
      BinStats* bin = stats.add_bins();
      bin->set_size_class(c);
      bin->set_curslabs(slabs.size());
      bin->set_curregs(used_[which].size() + 3);  // 3 in thread caches
    }
    if (large_live_) (*stats.mutable_large_curlextents())[large_] = 1;
    trace_.MarkWithStats(label, stats);
  }

  TestTrace trace_;
  std::vector<uint32_t> classes_;
  uint32_t large_ = 0;
  bool large_live_ = false;
  std::set<uint64_t> used_[2];
};

class ReplayCommandTest : public ::testing::Test {
 protected:
  // Written per test: a few hundred events, and nothing outside the test
  // can remove it in between.
  void SetUp() override {
    trace_path_ = TestPath("synthetic.slabtrace");
    SyntheticRun(trace_path_).Write();
  }

  // Runs the command with `args` plus -o OUT and returns OUT's content.
  std::string Run(std::vector<std::string> args, int expected_exit = kExitOk) {
    const std::string out = TestPath("out" + std::to_string(runs_++));
    args.push_back("-o");
    args.push_back(out);
    EXPECT_EQ(RunReplay(args), expected_exit);
    return ReadFile(out);
  }

  std::string trace_path_;
  int runs_ = 0;
};

TEST_F(ReplayCommandTest, AllFormatsAreByteIdenticalAcrossRuns) {
  for (const std::string format : {"table", "csv", "json"}) {
    const std::vector<std::string> args = {trace_path_,   "--format",
                                           format,        "--by-class",
                                           "--histogram", "--every=97"};
    const std::string first = Run(args);
    const std::string second = Run(args);
    EXPECT_FALSE(first.empty());
    EXPECT_EQ(first, second) << format;
  }
}

TEST_F(ReplayCommandTest, TableShowsLabelsUnitsGroundTruthAndValidation) {
  const std::string table = Run({trace_path_, "--by-class"});
  EXPECT_THAT(table, HasSubstr("loaded"));
  EXPECT_THAT(table, HasSubstr("KiB"));
  EXPECT_THAT(table, HasSubstr("ground truth at 'deleted'"));
  EXPECT_THAT(table, HasSubstr("all classes within the thread-cache bound"));
  EXPECT_THAT(table, HasSubstr("unknown frees 1"));
  EXPECT_THAT(table, HasSubstr("trailer    agrees"));
}

TEST_F(ReplayCommandTest, CsvHasOneRowPerSweepAndClass) {
  const std::string csv = Run({trace_path_, "--format=csv"});
  // Header + loaded, deleted, end.
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 4);
  const std::string by_class = Run({trace_path_, "--format=csv", "--by-class"});
  EXPECT_GT(std::count(by_class.begin(), by_class.end(), '\n'), 4);
}

TEST_F(ReplayCommandTest, JsonPrintsZeros) {
  const std::string json = Run({trace_path_, "--format", "json"});
  EXPECT_THAT(json, HasSubstr("\"double_frees\": \"0\""));
  EXPECT_THAT(json, HasSubstr("\"pinned_extents\""));
}

TEST_F(ReplayCommandTest, BadInputExitsTwo) {
  EXPECT_EQ(RunReplay({TestPath("missing.slabtrace")}), kExitBadInput);
  const std::string junk = TestPath("junk.slabtrace");
  std::ofstream(junk) << "this is not a trace at all, not even close";
  EXPECT_EQ(RunReplay({junk}), kExitBadInput);
  EXPECT_EQ(RunReplay({trace_path_, "--format=xml"}), kExitBadInput);
  EXPECT_EQ(RunReplay({trace_path_, "--every=-3"}), kExitBadInput);
  EXPECT_EQ(RunReplay({trace_path_, "--every=lots"}), kExitBadInput);
  EXPECT_EQ(RunReplay({trace_path_, "--bogus"}), kExitBadInput);
  EXPECT_EQ(RunReplay({}), kExitBadInput);
  EXPECT_EQ(RunReplay({trace_path_, trace_path_}), kExitBadInput);
}

struct GoldenCase {
  std::vector<std::string> args;  // after the trace path
  std::string file;               // under testdata/golden/
};

TEST_F(ReplayCommandTest, GoldenOutputs) {
  const std::vector<GoldenCase> cases = {
      {{"--by-class", "--histogram"}, "replay_synthetic.txt"},
      {{"--format=csv", "--by-class", "--histogram", "--every=200"},
       "replay_synthetic.csv"},
      {{"--format=json", "--by-class", "--histogram"}, "replay_synthetic.json"},
  };
  const char* update = std::getenv("SLABTRACE_UPDATE_GOLDEN");
  const char* workspace = std::getenv("BUILD_WORKSPACE_DIRECTORY");
  for (const GoldenCase& c : cases) {
    std::vector<std::string> args = {trace_path_};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const std::string actual = Run(args);
    const std::string golden = "testdata/golden/" + c.file;
    if (update != nullptr && workspace != nullptr) {
      std::ofstream(std::string(workspace) + "/" + golden, std::ios::binary)
          << actual;
      continue;
    }
    EXPECT_EQ(FirstDifference(actual, ReadFile(golden)), "")
        << golden << " differs; see the top of " << __FILE__
        << " to regenerate";
  }
}

}  // namespace
}  // namespace slabtrace
