// `slabtrace redis` and `slabtrace demo` against a real redis-server,
// without the recorder (--no-record): argument handling, scenario driving
// and exit codes. Recording end to end needs the whole slabtrace binary.

#include "tools/redis_command.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/internal/command.h"

namespace slabtrace {
namespace {

using ::testing::HasSubstr;

TEST(RedisCommandTest, DrivesEveryScenarioWithoutRecording) {
  for (const char* scenario : {"scatter-delete", "flushall", "expire",
                               "mixed-sizes", "churn", "hashes"}) {
    ::testing::internal::CaptureStderr();
    const int code = RunRedis({scenario, "--no-record", "--keys=300",
                               "--value-size=64", "--wave-ms=2"});
    const std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(code, kExitOk) << scenario << ": " << err;
    EXPECT_THAT(err, HasSubstr("phase done")) << scenario;
  }
}

TEST(RedisCommandTest, DemoAcceptsSmallerParameters) {
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(RunDemo({"--no-record", "--keys=500"}), kExitOk);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(err, HasSubstr("phase done: written"));
  EXPECT_THAT(err, HasSubstr("phase done: deleted"));
}

TEST(RedisCommandTest, BadInputExitsTwo) {
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(RunRedis({"no-such-scenario", "--no-record"}), kExitBadInput);
  EXPECT_EQ(RunRedis({}), kExitBadInput);
  EXPECT_EQ(RunRedis({"churn", "--keys=abc"}), kExitBadInput);
  EXPECT_EQ(RunRedis({"churn", "--keys=0", "--no-record"}), kExitBadInput);
  EXPECT_EQ(RunDemo({"extra"}), kExitBadInput);
  EXPECT_EQ(RunRedis({"churn", "--no-record",
                      "--redis-server=/nonexistent/redis-server"}),
            kExitBadInput);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(err, HasSubstr("unknown scenario 'no-such-scenario'"));
  EXPECT_THAT(err, HasSubstr("redis-server not found: apt-get install "
                             "redis-server"));
}

TEST(RedisCommandTest, HelpListsScenarios) {
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(RunRedis({"--help"}), kExitOk);
  const std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_THAT(out, HasSubstr("scatter-delete"));
  EXPECT_THAT(out, HasSubstr("--value-size"));
}

}  // namespace
}  // namespace slabtrace
