#include "tools/redis/resp_client.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/redis/redis_server.h"

namespace slabtrace {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

class RespClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<RedisServer>> server =
        RedisServer::Start(RedisServerOptions());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    absl::StatusOr<std::unique_ptr<RespClient>> client = server_->Connect();
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
  }

  std::unique_ptr<RedisServer> server_;
  std::unique_ptr<RespClient> client_;
};

TEST_F(RespClientTest, PipelinedBatchReturnsEveryReplyInOrder) {
  constexpr int kCommands = 5000;
  for (int i = 0; i < kCommands; ++i) {
    const std::string key = absl::StrCat("k", i);
    client_->Append({"SET", key, std::string(100, 'a' + i % 26)});
  }
  EXPECT_EQ(client_->pending(), kCommands);
  ASSERT_TRUE(client_->ReadAndCheckReplies().ok());
  EXPECT_EQ(client_->pending(), 0);
  EXPECT_EQ(*client_->CallInteger({"DBSIZE"}), kCommands);

  client_->Append({"GET", "k0"});
  client_->Append({"GET", "k27"});
  client_->Append({"GET", "missing"});
  client_->Append({"INCR", "counter"});
  absl::StatusOr<std::vector<RespReply>> replies = client_->ReadReplies();
  ASSERT_TRUE(replies.ok()) << replies.status();
  ASSERT_EQ(replies->size(), 4u);
  EXPECT_EQ((*replies)[0].str, std::string(100, 'a'));
  EXPECT_EQ((*replies)[1].str, std::string(100, 'b'));
  EXPECT_EQ((*replies)[2].type, RespReply::Type::kNil);
  EXPECT_EQ((*replies)[3].integer, 1);
}

TEST_F(RespClientTest, BinaryValuesRoundTrip) {
  const std::string value("a\0b\r\nc", 6);
  ASSERT_TRUE(client_->Call({"SET", "bin", value}).ok());
  absl::StatusOr<RespReply> reply = client_->Call({"GET", "bin"});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->str, value);
}

TEST_F(RespClientTest, ErrorReplyNamesTheCommandAndKeepsRepliesInStep) {
  client_->Append({"SET", "s", "x"});
  client_->Append({"LPUSH", "s", "y"});  // WRONGTYPE
  client_->Append({"SET", "t", "z"});
  absl::Status status = client_->ReadAndCheckReplies();
  EXPECT_THAT(status.message(), HasSubstr("LPUSH: WRONGTYPE"));
  // The third command ran and the stream is still in step.
  absl::StatusOr<RespReply> reply = client_->Call({"GET", "t"});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->str, "z");
  EXPECT_FALSE(client_->Call({"NOSUCHCOMMAND"}).ok());
  EXPECT_FALSE(client_->CallInteger({"GET", "t"}).ok());
}

TEST_F(RespClientTest, ArrayReplies) {
  ASSERT_TRUE(client_->Call({"RPUSH", "l", "a", "b", "c"}).ok());
  absl::StatusOr<RespReply> reply = client_->Call({"LRANGE", "l", "0", "-1"});
  ASSERT_TRUE(reply.ok()) << reply.status();
  ASSERT_EQ(reply->type, RespReply::Type::kArray);
  ASSERT_EQ(reply->elements.size(), 3u);
  EXPECT_EQ(reply->elements[2].str, "c");
}

TEST_F(RespClientTest, ManyArgumentsGoThrough) {
  std::vector<std::string> storage = {"RPUSH", "big"};
  for (int i = 0; i < 100; ++i) storage.push_back(absl::StrCat(i));
  std::vector<absl::string_view> argv(storage.begin(), storage.end());
  client_->Append(argv);
  ASSERT_TRUE(client_->ReadAndCheckReplies().ok());
  EXPECT_EQ(*client_->CallInteger({"LLEN", "big"}), 100);
}

TEST_F(RespClientTest, ReadsInfoMemory) {
  absl::StatusOr<RespReply> info = client_->Call({"INFO", "memory"});
  ASSERT_TRUE(info.ok()) << info.status();
  bool found = false;
  for (const auto& [key, value] : ParseInfo(info->str)) {
    if (key == "mem_allocator") {
      found = true;
      EXPECT_THAT(value, HasSubstr("jemalloc"));
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(RespClientTest, BrokenConnectionIsAnError) {
  ASSERT_TRUE(server_->Stop().ok());
  client_->Append({"PING"});
  EXPECT_FALSE(client_->ReadAndCheckReplies().ok());
}

TEST(RespClientConnectTest, RefusedConnectionIsAnError) {
  absl::StatusOr<int> port = PickFreeLoopbackPort();
  ASSERT_TRUE(port.ok());
  absl::StatusOr<std::unique_ptr<RespClient>> client =
      RespClient::Connect("127.0.0.1", *port, absl::Seconds(1));
  ASSERT_FALSE(client.ok());
  EXPECT_THAT(client.status().message(), HasSubstr("connect"));
}

TEST(ParseInfoTest, SkipsSectionsAndBlankLines) {
  EXPECT_THAT(ParseInfo("# Memory\r\nused_memory:123\r\n\r\nmem_allocator:"
                        "jemalloc-5.3.0\r\n"),
              ElementsAre(Pair("used_memory", "123"),
                          Pair("mem_allocator", "jemalloc-5.3.0")));
}

}  // namespace
}  // namespace slabtrace
