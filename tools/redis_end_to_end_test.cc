// End to end against Debian's real redis-server, recorded by the real
// slabtrace binary: `slabtrace redis scatter-delete` at small scale must
// agree with jemalloc's own statistics at every marker, and `slabtrace demo`
// must print the per-class table and the comparison of every policy. Each
// RunRedis/RunDemo starts its own server on a free loopback port and stops
// it, on failure too (tools/redis/redis_server.h).

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/report.pb.h"
#include "proto/trace_reader.h"
#include "replay/replayer.h"
#include "tools/internal/command.h"
#include "tools/redis_command.h"

namespace slabtrace {
namespace {

using ::testing::HasSubstr;

std::string SlabtraceBinary() {
  return absl::StrCat(std::getenv("TEST_SRCDIR"), "/slabtrace/tools/slabtrace");
}

std::string TempPath(const std::string& name) {
  return absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name);
}

// Runs `command` with `args` and returns what it printed on stdout.
std::string RunCapturingStdout(int (*command)(const std::vector<std::string>&),
                               const std::vector<std::string>& args,
                               int* exit_code) {
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  *exit_code = command(args);
  const std::string err = ::testing::internal::GetCapturedStderr();
  const std::string out = ::testing::internal::GetCapturedStdout();
  if (*exit_code != kExitOk) std::fprintf(stderr, "%s", err.c_str());
  return out;
}

Report ReplayByClass(const std::string& path) {
  absl::StatusOr<std::unique_ptr<TraceReader>> reader = TraceReader::Open(path);
  EXPECT_TRUE(reader.ok()) << reader.status();
  if (!reader.ok()) return Report();
  ReplayOptions options;
  options.set_by_class(true);
  Replayer replayer(**reader, options);
  absl::StatusOr<Report> report = replayer.Run();
  EXPECT_TRUE(report.ok()) << report.status();
  return report.ok() ? *report : Report();
}

constexpr int kKeys = 5000;

TEST(RedisEndToEndTest, ScatterDeleteAgreesWithJemallocAtEveryMarker) {
  const std::string trace = TempPath("scatter-delete.slabtrace");
  int code = 0;
  RunCapturingStdout(
      RunRedis,
      {"scatter-delete", absl::StrCat("--keys=", kKeys), "--value-size=1024",
       "--policies=recorded", "-o", trace, "--slabtrace", SlabtraceBinary()},
      &code);
  ASSERT_EQ(code, kExitOk);

  const Report report = ReplayByClass(trace);
  std::vector<std::string> checked;
  for (const Sweep& sweep : report.sweeps()) {
    if (sweep.kind() != Sweep::MARKER || !sweep.ground_truth().available()) {
      continue;
    }
    checked.push_back(sweep.label());
    const GroundTruth& truth = sweep.ground_truth();
    EXPECT_GT(truth.classes_size(), 0) << sweep.label();
    for (const GroundTruthClass& c : truth.classes()) {
      EXPECT_TRUE(c.within_bound())
          << "marker '" << sweep.label() << "' class " << c.class_size()
          << ": replay " << c.replay_slabs() << " slabs / "
          << c.replay_regions() << " regions, jemalloc "
          << c.jemalloc_curslabs() << " / " << c.jemalloc_curregs()
          << ", bound " << c.bound();
      EXPECT_LE(std::abs(c.slabs_diff()), static_cast<int64_t>(c.bound()));
      EXPECT_LE(std::abs(c.regions_diff()), static_cast<int64_t>(c.bound()));
    }
    EXPECT_TRUE(truth.all_within_bound()) << sweep.label();
  }
  EXPECT_THAT(checked, ::testing::IsSupersetOf({"written", "deleted"}));

  // The values (1 KiB + the sds header) live in the 1280-byte class; after
  // the delete the replay holds the even half of them there.
  bool saw_values = false;
  for (const Sweep& sweep : report.sweeps()) {
    if (sweep.label() != "deleted") continue;
    for (const ClassOccupancy& c : sweep.classes()) {
      if (c.class_size() != 1280) continue;
      saw_values = true;
      EXPECT_GE(c.occupancy().live_objects(), kKeys / 2);
      EXPECT_GE(c.occupancy().pinned_slabs() * c.nregs(), kKeys / 2);
    }
  }
  EXPECT_TRUE(saw_values);
  EXPECT_EQ(report.validation().inconsistencies(), 0);
  EXPECT_EQ(report.trailer().dropped_events(), 0);
}

TEST(RedisEndToEndTest, DemoPrintsPerClassTableAndEveryPolicy) {
  int code = 0;
  const std::string out =
      RunCapturingStdout(RunDemo,
                         {"--keys=2000", "-o", TempPath("demo.slabtrace"),
                          "--slabtrace", SlabtraceBinary()},
                         &code);
  ASSERT_EQ(code, kExitOk);
  EXPECT_THAT(out, HasSubstr("per size class at marker 'written'"));
  EXPECT_THAT(out, HasSubstr("per size class at marker 'deleted'"));
  EXPECT_THAT(out, HasSubstr("je curslabs"));
  EXPECT_THAT(out, ::testing::ContainsRegex("\n +1280 +16 "));
  EXPECT_THAT(out, HasSubstr("policy comparison"));
  // DESIGN.md's eight policies, each with a row at the delete marker.
  for (const char* policy : {"recorded", "jemalloc", "first-fit", "best-fit",
                             "worst-fit", "temporal", "oracle", "compact"}) {
    EXPECT_THAT(
        out, ::testing::ContainsRegex(absl::StrCat("\ndeleted +", policy, " ")))
        << policy;
  }
}

// The recorder runs in the server's private directory; a relative -o must
// still land in ours, and survive the server's directory being removed.
TEST(RedisEndToEndTest, RelativeOutputLandsInTheCurrentDirectory) {
  const std::string dir = TempPath("relative");
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  char previous[4096];
  ASSERT_NE(getcwd(previous, sizeof(previous)), nullptr);
  ASSERT_EQ(chdir(dir.c_str()), 0);
  int code = 0;
  RunCapturingStdout(RunRedis,
                     {"flushall", "--keys=300", "--policies=recorded", "-o",
                      "small.slabtrace", "--slabtrace", SlabtraceBinary()},
                     &code);
  ASSERT_EQ(chdir(previous), 0);
  EXPECT_EQ(code, kExitOk);
  EXPECT_TRUE(TraceReader::Open(dir + "/small.slabtrace").ok());
}

TEST(RedisEndToEndTest, UnknownPolicyIsBadInputBeforeAnythingRuns) {
  int code = 0;
  RunCapturingStdout(RunDemo, {"--policies=recorded,nonesuch"}, &code);
  EXPECT_EQ(code, kExitBadInput);
}

}  // namespace
}  // namespace slabtrace
