#include "tools/redis/scenarios.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/redis/redis_server.h"

namespace slabtrace {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

// What a run saw: the labels in order and DBSIZE at each of them.
struct RunLog {
  std::vector<std::string> labels;
  std::vector<int64_t> dbsizes;
  std::map<std::string, int64_t> dbsize_at;
};

class ScenariosTest : public ::testing::Test {
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

  RunLog Run(const std::string& name, const ScenarioParams& params) {
    RunLog log;
    absl::StatusOr<std::unique_ptr<Scenario>> scenario =
        CreateScenario(name, params);
    EXPECT_TRUE(scenario.ok()) << scenario.status();
    if (!scenario.ok()) return log;
    absl::Status status =
        (*scenario)->Run(*client_, [&](absl::string_view label) {
          absl::StatusOr<int64_t> size = client_->CallInteger({"DBSIZE"});
          if (!size.ok()) return size.status();
          log.labels.emplace_back(label);
          log.dbsizes.push_back(*size);
          log.dbsize_at[std::string(label)] = *size;
          return absl::OkStatus();
        });
    EXPECT_TRUE(status.ok()) << status;
    return log;
  }

  std::vector<std::string> Labels(const std::string& name,
                                  const ScenarioParams& params) {
    for (const ScenarioInfo& info : AllScenarios()) {
      if (info.name == name) return info.labels(params);
    }
    ADD_FAILURE() << "no scenario " << name;
    return {};
  }

  std::unique_ptr<RedisServer> server_;
  std::unique_ptr<RespClient> client_;
};

ScenarioParams Small() {
  ScenarioParams params;
  params.keys = 1001;  // odd, so "every other" rounding is exercised
  params.value_size = 100;
  params.batch = 64;
  return params;
}

TEST_F(ScenariosTest, ScatterDeleteKeepsEvenKeys) {
  const ScenarioParams params = Small();
  RunLog log = Run("scatter-delete", params);
  EXPECT_THAT(log.labels, ElementsAreArray(Labels("scatter-delete", params)));
  EXPECT_THAT(log.dbsizes, ElementsAre(1001, 501));
  EXPECT_EQ(*client_->CallInteger({"EXISTS", ScenarioKey(0)}), 1);
  EXPECT_EQ(*client_->CallInteger({"EXISTS", ScenarioKey(1)}), 0);
  EXPECT_EQ(*client_->CallInteger({"EXISTS", ScenarioKey(1000)}), 1);
  EXPECT_EQ(*client_->CallInteger({"STRLEN", ScenarioKey(2)}), 100);
}

TEST_F(ScenariosTest, FlushAllEmptiesTheServer) {
  RunLog log = Run("flushall", Small());
  EXPECT_THAT(log.labels, ElementsAre("written", "flushed"));
  EXPECT_THAT(log.dbsizes, ElementsAre(1001, 0));
}

TEST_F(ScenariosTest, ExpireRemovesOneWaveAtATime) {
  ScenarioParams params = Small();
  params.keys = 400;
  params.waves = 4;
  params.wave_ms = 5;
  RunLog log = Run("expire", params);
  EXPECT_THAT(log.labels, ElementsAre("written", "expired-1", "expired-2",
                                      "expired-3", "expired-4"));
  EXPECT_THAT(log.dbsizes, ElementsAre(400, 300, 200, 100, 0));
  // Active expiry is back on afterwards.
  absl::StatusOr<RespReply> debug =
      client_->Call({"DEBUG", "SET-ACTIVE-EXPIRE", "1"});
  EXPECT_TRUE(debug.ok()) << debug.status();
}

TEST_F(ScenariosTest, MixedSizesUsesEverySizeAndDeletesAShare) {
  ScenarioParams params = Small();
  params.keys = 2000;
  params.sizes = {10, 1000, 20000};
  params.delete_fraction = 0.25;
  RunLog log = Run("mixed-sizes", params);
  ASSERT_THAT(log.labels, ElementsAre("written", "deleted"));
  EXPECT_EQ(log.dbsizes[0], 2000);
  // About a quarter deleted: binomial(2000, 0.25) is 500 +- 3 sigma (58).
  EXPECT_NEAR(log.dbsizes[1], 1500, 60);
  std::map<int64_t, int> lengths;
  for (int64_t i = 0; i < 2000; i += 1) {
    absl::StatusOr<int64_t> length =
        client_->CallInteger({"STRLEN", ScenarioKey(i)});
    ASSERT_TRUE(length.ok());
    if (*length > 0) ++lengths[*length];
  }
  EXPECT_EQ(lengths.size(), 3u);
  EXPECT_EQ(lengths.count(20000), 1u);
}

TEST_F(ScenariosTest, ChurnMarksEveryPhaseWithinTheKeySpace) {
  ScenarioParams params = Small();
  params.keys = 800;
  params.ops = 4000;
  params.phases = 3;
  RunLog log = Run("churn", params);
  EXPECT_THAT(log.labels, ElementsAre("phase-1", "phase-2", "phase-3"));
  for (int64_t size : log.dbsizes) {
    EXPECT_GT(size, 0);
    EXPECT_LE(size, 800);
  }
  EXPECT_EQ(*client_->CallInteger({"EXISTS", ScenarioKey(800)}), 0);
}

TEST_F(ScenariosTest, ChurnIsDeterministicFromItsSeed) {
  ScenarioParams params = Small();
  params.keys = 500;
  params.ops = 3000;
  const RunLog first = Run("churn", params);
  ASSERT_TRUE(client_->Call({"FLUSHALL", "SYNC"}).ok());
  const RunLog again = Run("churn", params);
  EXPECT_EQ(first.dbsizes, again.dbsizes);
  ASSERT_TRUE(client_->Call({"FLUSHALL", "SYNC"}).ok());
  params.seed = 2;
  const RunLog other = Run("churn", params);
  EXPECT_NE(first.dbsizes, other.dbsizes);
}

TEST_F(ScenariosTest, HashesDeletesEveryOtherField) {
  ScenarioParams params = Small();
  params.keys = 1000;
  params.hashes = 3;
  RunLog log = Run("hashes", params);
  EXPECT_THAT(log.labels, ElementsAre("written", "deleted"));
  EXPECT_THAT(log.dbsizes, ElementsAre(3, 3));
  int64_t fields = 0;
  for (int h = 0; h < 3; ++h) {
    fields += *client_->CallInteger({"HLEN", absl::StrCat("hash:", h)});
  }
  EXPECT_EQ(fields, 500);
}

TEST_F(ScenariosTest, FailingMarkStopsTheRun) {
  absl::StatusOr<std::unique_ptr<Scenario>> scenario =
      CreateScenario("scatter-delete", Small());
  ASSERT_TRUE(scenario.ok());
  int marks = 0;
  absl::Status status = (*scenario)->Run(*client_, [&](absl::string_view) {
    ++marks;
    return absl::UnavailableError("recorder gone");
  });
  EXPECT_EQ(status.message(), "recorder gone");
  EXPECT_EQ(marks, 1);
  EXPECT_EQ(*client_->CallInteger({"DBSIZE"}), 1001);  // no delete ran
}

TEST(ScenarioRegistryTest, RejectsUnknownNamesAndBadParameters) {
  absl::StatusOr<std::unique_ptr<Scenario>> unknown =
      CreateScenario("nope", ScenarioParams());
  ASSERT_FALSE(unknown.ok());
  EXPECT_THAT(unknown.status().message(),
              HasSubstr("one of: scatter-delete, flushall"));
  ScenarioParams params;
  params.keys = 0;
  EXPECT_THAT(CreateScenario("churn", params).status().message(),
              HasSubstr("--keys must be at least 1"));
  params = ScenarioParams();
  params.delete_fraction = 2;
  EXPECT_FALSE(CreateScenario("mixed-sizes", params).ok());
}

TEST(ScenarioRegistryTest, EveryScenarioHasADescription) {
  EXPECT_EQ(AllScenarios().size(), 6u);
  for (const ScenarioInfo& info : AllScenarios()) {
    EXPECT_GT(std::string(info.description).size(), 10u) << info.name;
    EXPECT_TRUE(CreateScenario(info.name, ScenarioParams()).ok());
  }
}

TEST(ScenarioKeyTest, KeysHaveFixedWidth) {
  EXPECT_EQ(ScenarioKey(7), "key:00000007");
  EXPECT_EQ(ScenarioValue(1, 5), "bbbbb");
}

}  // namespace
}  // namespace slabtrace
