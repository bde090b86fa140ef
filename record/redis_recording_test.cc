// Debian's real redis-server recorded under a scripted workload: load keys,
// mark, delete half, mark, BGSAVE (a forked child), shutdown. The trace
// must be complete, with both markers and the exit marker carrying
// jemalloc's statistics, symmetric call/event counts, a causal order, and a
// readable trace of the BGSAVE child.

#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "record/call_accounting.h"
#include "record/testing/subprocess.h"
#include "record/testing/trace_contents.h"

namespace slabtrace {
namespace {

constexpr char kRedisServer[] = "/usr/bin/redis-server";
constexpr char kRedisCli[] = "/usr/bin/redis-cli";
constexpr int kKeys = 5000;

class RedisRecordingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(kRedisServer, X_OK) != 0 || access(kRedisCli, X_OK) != 0) {
      GTEST_SKIP() << "redis-server/redis-cli not installed";
    }
    dir_ = TestDirectory("redis");
    trace_ = dir_ + "/redis.slabtrace";
    port_ = absl::StrCat(FreeLoopbackPort());
  }

  // Stops the server whatever happened, and reaps the recorder.
  void TearDown() override {
    if (recorder_pid_ > 0) {
      Cli({"shutdown", "nosave"}).IgnoreError();
      if (!WaitProcess(recorder_pid_, absl::Seconds(20)).ok()) {
        kill(-recorder_pid_, SIGKILL);
      }
    }
  }

  absl::StatusOr<std::string> Cli(const std::vector<std::string>& args,
                                  const std::string& input = "") {
    std::vector<std::string> argv = {kRedisCli, "-h", "127.0.0.1", "-p", port_};
    argv.insert(argv.end(), args.begin(), args.end());
    const std::string out = dir_ + "/cli.txt";
    unlink(out.c_str());
    absl::StatusOr<int> code =
        RunProcess(argv, absl::Seconds(60), {out, input});
    if (!code.ok()) return code.status();
    if (*code != 0) {
      return absl::InternalError(
          absl::StrCat("redis-cli exited ", *code, ": ", ReadFileOrEmpty(out)));
    }
    return ReadFileOrEmpty(out);
  }

  absl::Status WaitForPing() {
    for (int i = 0; i < 400; ++i) {
      absl::StatusOr<std::string> reply = Cli({"ping"});
      if (reply.ok() && absl::StartsWith(*reply, "PONG")) {
        return absl::OkStatus();
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    return absl::DeadlineExceededError("redis-server never answered PING");
  }

  std::string Info(const std::string& section, const std::string& field) {
    absl::StatusOr<std::string> info = Cli({"info", section});
    if (!info.ok()) return "";
    for (absl::string_view line : absl::StrSplit(*info, '\n')) {
      line = absl::StripTrailingAsciiWhitespace(line);
      if (absl::ConsumePrefix(&line, field + ":")) return std::string(line);
    }
    return "";
  }

  // Feeds redis-cli --pipe with one command per key.
  absl::Status Pipe(const std::string& verb, int step, bool with_value) {
    const std::string path = dir_ + "/commands.txt";
    std::ofstream commands(path);
    const std::string value(1000, 'v');
    for (int i = 0; i < kKeys; i += step) {
      commands << verb << " key:" << i;
      if (with_value) commands << " " << value;
      commands << "\n";
    }
    commands.close();
    return Cli({"--pipe"}, path).status();
  }

  int Mark(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {
        RunfilePath("record/testing/record_driver"), "mark"};
    argv.insert(argv.end(), args.begin(), args.end());
    absl::StatusOr<int> code =
        RunProcess(argv, absl::Seconds(30), {dir_ + "/mark.txt"});
    return code.ok() ? *code : -1;
  }

  std::string dir_;
  std::string trace_;
  std::string port_;
  pid_t recorder_pid_ = -1;
};

TEST_F(RedisRecordingTest, WorkloadMarkersForkAndShutdown) {
  absl::StatusOr<pid_t> recorder = StartProcess(
      {RunfilePath("record/testing/record_driver"), "record", "-o", trace_,
       "--", kRedisServer, "--port", port_, "--bind", "127.0.0.1", "--save", "",
       "--appendonly", "no", "--dir", dir_, "--logfile", dir_ + "/redis.log"},
      {dir_ + "/console.txt"});
  ASSERT_TRUE(recorder.ok()) << recorder.status();
  recorder_pid_ = *recorder;
  ASSERT_TRUE(WaitForPing().ok()) << ReadFileOrEmpty(dir_ + "/console.txt");
  int64_t redis_pid = 0;
  ASSERT_TRUE(absl::SimpleAtoi(Info("server", "process_id"), &redis_pid));

  ASSERT_TRUE(Pipe("SET", 1, true).ok());
  EXPECT_EQ(Mark({"--pid", absl::StrCat(redis_pid), "loaded"}), 0)
      << ReadFileOrEmpty(dir_ + "/mark.txt");
  ASSERT_TRUE(Pipe("DEL", 2, false).ok());
  EXPECT_EQ(Mark({"--trace", trace_, "deleted"}), 0)
      << ReadFileOrEmpty(dir_ + "/mark.txt");
  // No such recording: a one-line error and exit 2.
  EXPECT_EQ(Mark({"--pid", "1", "nobody"}), 2);

  ASSERT_TRUE(Cli({"bgsave"}).ok());
  for (int i = 0;
       i < 400 && Info("persistence", "rdb_bgsave_in_progress") != "0"; ++i) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  // Only now is the last BGSAVE's status the one we started.
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(Info("persistence", "rdb_last_bgsave_status"), "ok");

  Cli({"shutdown"}).IgnoreError();  // the connection just closes
  absl::StatusOr<int> exit_code = WaitProcess(recorder_pid_, absl::Seconds(30));
  recorder_pid_ = -1;
  ASSERT_TRUE(exit_code.ok()) << exit_code.status();
  const std::string console = ReadFileOrEmpty(dir_ + "/console.txt");
  EXPECT_EQ(*exit_code, 0) << console;

  absl::StatusOr<TraceContents> trace = ReadWholeTrace(trace_);
  ASSERT_TRUE(trace.ok()) << trace.status();
  ASSERT_TRUE(trace->trailer.has_value()) << console;
  EXPECT_TRUE(trace->trailer->complete())
      << trace->trailer->incomplete_reason();
  EXPECT_EQ(trace->trailer->dropped_events(), 0u);
  EXPECT_EQ(trace->header.pid(), redis_pid);
  EXPECT_TRUE(
      CheckSymmetricAccounting(*trace->trailer, trace->CountEvents()).ok())
      << CheckSymmetricAccounting(*trace->trailer, trace->CountEvents());
  EXPECT_TRUE(CheckOrder(*trace, /*allow_unknown_frees=*/true).ok())
      << CheckOrder(*trace, true);
  // At least one alloc per key written, and a free per key deleted.
  const EventCounts counts = trace->CountEvents();
  uint64_t allocs = 0, frees = 0;
  for (const auto& row : counts) {
    allocs += row[static_cast<int>(EventKind::kAlloc)];
    frees += row[static_cast<int>(EventKind::kFree)];
  }
  EXPECT_GE(allocs, static_cast<uint64_t>(kKeys));
  EXPECT_GE(frees, static_cast<uint64_t>(kKeys / 2));

  std::vector<std::string> labels;
  for (const Marker& marker : trace->markers) {
    labels.push_back(marker.label());
    EXPECT_TRUE(marker.has_stats()) << marker.label();
    EXPECT_EQ(marker.stats().bins_size(),
              static_cast<int>(trace->header.nbins()));
    EXPECT_GT(marker.stats().allocated(), 0u);
    EXPECT_GE(marker.stats().resident(), marker.stats().active());
  }
  EXPECT_THAT(labels, ::testing::ElementsAre("loaded", "deleted", "exit"));
  // Deleting half the 1000-byte values lowers the live regions jemalloc
  // counts in their class.
  const uint64_t before = trace->markers[0].stats().allocated();
  const uint64_t after = trace->markers[1].stats().allocated();
  EXPECT_LT(after, before);

  // The BGSAVE child recorded into FILE.<pid> and left through _exit.
  std::vector<std::string> children;
  const std::string child_prefix = "child trace ";
  for (absl::string_view line : absl::StrSplit(console, '\n')) {
    line = absl::StripLeadingAsciiWhitespace(line);
    if (absl::ConsumePrefix(&line, child_prefix)) {
      children.emplace_back(line);
    }
  }
  ASSERT_EQ(children.size(), 1u) << console;
  absl::StatusOr<TraceContents> child = ReadWholeTrace(children[0]);
  ASSERT_TRUE(child.ok()) << child.status();
  EXPECT_NE(child->header.pid(), redis_pid);
  EXPECT_TRUE(CheckOrder(*child, /*allow_unknown_frees=*/true).ok());
  ASSERT_TRUE(child->trailer.has_value());
  EXPECT_TRUE(child->trailer->complete());
  EXPECT_TRUE(
      CheckSymmetricAccounting(*child->trailer, child->CountEvents()).ok());
}

}  // namespace
}  // namespace slabtrace
