#include "tools/redis/redis_server.h"

#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <iterator>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/redis/resp_client.h"

namespace slabtrace {
namespace {

using ::testing::HasSubstr;

bool ProcessExists(pid_t pid) { return kill(pid, 0) == 0; }

bool DirectoryExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

TEST(RedisServerTest, StartsAnswersAndStopsCleanly) {
  absl::StatusOr<std::unique_ptr<RedisServer>> server =
      RedisServer::Start(RedisServerOptions());
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_GT((*server)->port(), 0);
  const pid_t pid = (*server)->server_pid();
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(ProcessExists(pid));

  absl::StatusOr<std::unique_ptr<RespClient>> client = (*server)->Connect();
  ASSERT_TRUE(client.ok()) << client.status();
  absl::StatusOr<RespReply> pong = (*client)->Call({"PING"});
  ASSERT_TRUE(pong.ok()) << pong.status();
  EXPECT_EQ(pong->str, "PONG");
  // No persistence unless asked.
  absl::StatusOr<RespReply> save = (*client)->Call({"CONFIG", "GET", "save"});
  ASSERT_TRUE(save.ok()) << save.status();
  ASSERT_EQ(save->elements.size(), 2u);
  EXPECT_EQ(save->elements[1].str, "");

  absl::StatusOr<int> status = (*server)->Stop();
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, 0);
  EXPECT_FALSE(ProcessExists(pid));
  EXPECT_THAT((*server)->ReadLog(), HasSubstr("Ready to accept connections"));
  // Stop is idempotent.
  EXPECT_TRUE((*server)->Stop().ok());
}

TEST(RedisServerTest, DestructorStopsServerAndRemovesDirectory) {
  pid_t pid = -1;
  std::string directory;
  {
    absl::StatusOr<std::unique_ptr<RedisServer>> server =
        RedisServer::Start(RedisServerOptions());
    ASSERT_TRUE(server.ok()) << server.status();
    pid = (*server)->server_pid();
    directory = (*server)->directory();
    EXPECT_TRUE(DirectoryExists(directory));
  }
  EXPECT_FALSE(ProcessExists(pid));
  EXPECT_FALSE(DirectoryExists(directory));
}

TEST(RedisServerTest, TwoServersGetDifferentPorts) {
  absl::StatusOr<std::unique_ptr<RedisServer>> a =
      RedisServer::Start(RedisServerOptions());
  absl::StatusOr<std::unique_ptr<RedisServer>> b =
      RedisServer::Start(RedisServerOptions());
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_NE((*a)->port(), (*b)->port());
}

TEST(RedisServerTest, RunsUnderPrefixWithEnvironment) {
  RedisServerOptions options;
  // A shell stands in for the recorder: it sees our environment variable,
  // leaves a trace of it in the server's directory and execs the server.
  options.command_prefix = {
      "sh", "-c", "echo \"$SLABTRACE_TEST_MARK\" > prefix_ran; exec \"$@\"",
      "sh"};
  options.environment = {{"SLABTRACE_TEST_MARK", "seen-by-child"}};
  absl::StatusOr<std::unique_ptr<RedisServer>> server =
      RedisServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  const pid_t pid = (*server)->server_pid();
  EXPECT_EQ(pid, (*server)->child_pid());  // the shell exec'ed the server
  std::ifstream marker((*server)->directory() + "/prefix_ran");
  std::string text((std::istreambuf_iterator<char>(marker)),
                   std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "seen-by-child\n");
  ASSERT_TRUE((*server)->Stop().ok());
  EXPECT_FALSE(ProcessExists(pid));
}

TEST(RedisServerTest, KillsServerThatIgnoresShutdown) {
  RedisServerOptions options;
  options.stop_timeout = absl::Milliseconds(200);
  // A prefix that survives SHUTDOWN and SIGTERM: the shell keeps running
  // after redis exits, so only SIGKILL of the group ends it.
  options.command_prefix = {"sh", "-c", "trap '' TERM; \"$@\"; sleep 600",
                            "sh"};
  absl::StatusOr<std::unique_ptr<RedisServer>> server =
      RedisServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  const pid_t child = (*server)->child_pid();
  absl::StatusOr<int> status = (*server)->Stop();
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, 128 + SIGKILL);
  EXPECT_FALSE(ProcessExists(child));
}

TEST(RedisServerTest, MissingBinaryGivesInstallHint) {
  RedisServerOptions options;
  options.binary = "redis-server-that-does-not-exist";
  absl::StatusOr<std::unique_ptr<RedisServer>> server =
      RedisServer::Start(options);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().message(),
            "redis-server not found: apt-get install redis-server");
}

TEST(RedisServerTest, ServerThatCannotStartIsReported) {
  RedisServerOptions options;
  options.extra_args = {"--no-such-redis-option", "1"};
  absl::StatusOr<std::unique_ptr<RedisServer>> server =
      RedisServer::Start(options);
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(server.status().message(), HasSubstr("exited with status"));
}

TEST(RedisServerTest, PicksLoopbackPorts) {
  absl::StatusOr<int> port = PickFreeLoopbackPort();
  ASSERT_TRUE(port.ok()) << port.status();
  EXPECT_GT(*port, 0);
  EXPECT_LT(*port, 65536);
}

}  // namespace
}  // namespace slabtrace
