// The recorder under adverse conditions: an unwritable output path, a full
// disk, kill -9, and fork in both --on-fork modes. In every case the
// recorded program behaves as it would without the recorder and whatever
// trace exists is readable.

#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "record/call_accounting.h"
#include "record/testing/subprocess.h"
#include "record/testing/trace_contents.h"

namespace slabtrace {
namespace {

std::string Driver() { return RunfilePath("record/testing/record_driver"); }
std::string KnownCalls() { return RunfilePath("record/testing/known_calls"); }

bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

TEST(FailureModesTest, UnwritableOutputFailsBeforeTheProgramStarts) {
  const std::string dir = TestDirectory("unwritable");
  const std::string ran = dir + "/ran";
  const std::string console = dir + "/console.txt";
  absl::StatusOr<int> code =
      RunProcess({Driver(), "record", "-o", dir + "/no/such/dir/x.slabtrace",
                  "--", "/bin/sh", "-c", "touch " + ran},
                 absl::Seconds(30), {console});
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 2);
  const std::string text = ReadFileOrEmpty(console);
  EXPECT_THAT(text, ::testing::HasSubstr("cannot write"));
  EXPECT_THAT(text, ::testing::HasSubstr("x.slabtrace"));
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
  EXPECT_FALSE(Exists(ran));
}

// A 256 KiB filesystem (tmpfs when we may mount, else RLIMIT_FSIZE with
// SIGXFSZ ignored) against a program that makes millions of events.
TEST(FailureModesTest, FullDiskLeavesTheProgramRunningAndTheTraceIncomplete) {
  const std::string dir = TestDirectory("full_disk");
  const std::string small = dir + "/small";
  mkdir(small.c_str(), 0755);
  const bool mounted =
      mount("tmpfs", small.c_str(), "tmpfs", 0, "size=256k") == 0;
  ProcessOptions options{dir + "/console.txt"};
  if (!mounted) {
    options.in_child = [] {
      signal(SIGXFSZ, SIG_IGN);
      rlimit limit = {256 * 1024, 256 * 1024};
      setrlimit(RLIMIT_FSIZE, &limit);
    };
  }
  const std::string trace = small + "/full.slabtrace";
  absl::StatusOr<int> code =
      RunProcess({Driver(), "record", "-o", trace, "--", KnownCalls(),
                  dir + "/expected.txt", "--churn=3000000"},
                 absl::Seconds(120), options);
  absl::StatusOr<TraceContents> contents = ReadWholeTrace(trace);
  if (mounted) umount2(small.c_str(), MNT_DETACH);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << ReadFileOrEmpty(dir + "/console.txt");
  ASSERT_TRUE(contents.ok()) << contents.status();
  if (contents->trailer.has_value()) {
    EXPECT_FALSE(contents->trailer->complete());
    EXPECT_THAT(contents->trailer->incomplete_reason(),
                ::testing::HasSubstr("write failed"));
    EXPECT_GT(contents->trailer->dropped_events(), 1000000u);
  } else {
    // The trailer is written only if it still fits (record/README.md): when
    // the last chunk filled the disk exactly, the reader says where the
    // trace ends instead.
    EXPECT_THAT(contents->warnings,
                ::testing::Contains(::testing::HasSubstr("without a trailer")));
  }
  const absl::Status order =
      CheckOrder(*contents, /*allow_unknown_frees=*/true);
  EXPECT_TRUE(order.ok()) << order;
}

// --on-full=drop with a 64-slot ring against a tight malloc/free loop: the
// writer cannot keep up, so calls are dropped rather than waited for; the
// program is unaffected and the trace says how many calls it lacks.
TEST(FailureModesTest, DropModeSkipsCallsInsteadOfWaiting) {
  const std::string dir = TestDirectory("drop");
  const std::string trace = dir + "/drop.slabtrace";
  constexpr uint64_t kChurn = 2000000;
  absl::StatusOr<int> code =
      RunProcess({Driver(), "record", "-o", trace, "--on-full=drop",
                  "--ring-events=64", "--", KnownCalls(), dir + "/expected.txt",
                  absl::StrCat("--churn=", kChurn)},
                 absl::Seconds(120), {dir + "/console.txt"});
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << ReadFileOrEmpty(dir + "/console.txt");
  absl::StatusOr<TraceContents> contents = ReadWholeTrace(trace);
  ASSERT_TRUE(contents.ok()) << contents.status();
  ASSERT_TRUE(contents->trailer.has_value());
  const TraceTrailer& trailer = *contents->trailer;
  EXPECT_EQ(contents->header.metadata().at("recorder.on_full"), "drop");
  EXPECT_GT(trailer.dropped_events(), 0u);
  EXPECT_FALSE(trailer.complete());
  EXPECT_THAT(trailer.incomplete_reason(),
              ::testing::HasSubstr("ring was full"));
  // Every churn call is either in the trace or counted as dropped.
  EXPECT_GE(contents->events.size() + trailer.dropped_events(), 2 * kChurn);
  // What was recorded is accounted for exactly.
  const absl::Status symmetric =
      CheckSymmetricAccounting(trailer, contents->CountEvents());
  EXPECT_TRUE(symmetric.ok()) << symmetric;
}

// The same with the default --on-full=wait: nothing is dropped, and the
// trailer and the summary count the calls that waited for the writer.
TEST(FailureModesTest, WaitModeCountsTheCallsThatWaited) {
  const std::string dir = TestDirectory("wait");
  const std::string trace = dir + "/wait.slabtrace";
  constexpr uint64_t kChurn = 200000;
  absl::StatusOr<int> code = RunProcess(
      {Driver(), "record", "-o", trace, "--ring-events=64", "--", KnownCalls(),
       dir + "/expected.txt", absl::StrCat("--churn=", kChurn)},
      absl::Seconds(120), {dir + "/console.txt"});
  ASSERT_TRUE(code.ok()) << code.status();
  const std::string console = ReadFileOrEmpty(dir + "/console.txt");
  EXPECT_EQ(*code, 0) << console;
  absl::StatusOr<TraceContents> contents = ReadWholeTrace(trace);
  ASSERT_TRUE(contents.ok()) << contents.status();
  ASSERT_TRUE(contents->trailer.has_value());
  const TraceTrailer& trailer = *contents->trailer;
  EXPECT_EQ(trailer.dropped_events(), 0u);
  EXPECT_TRUE(trailer.complete()) << trailer.incomplete_reason();
  EXPECT_GT(trailer.ring_full_waits(), 0u);
  EXPECT_GT(trailer.ring_full_wait_ns(), 0u);
  EXPECT_THAT(console, ::testing::HasSubstr(absl::StrFormat(
                           "waits       %d calls waited for a full ring to "
                           "drain, %.1f ms in all",
                           trailer.ring_full_waits(),
                           trailer.ring_full_wait_ns() / 1e6)));
}

TEST(FailureModesTest, KillNineLeavesATraceReadableToTheLastChunk) {
  const std::string dir = TestDirectory("kill9");
  const std::string trace = dir + "/killed.slabtrace";
  const std::string pid_file = dir + "/pid";
  absl::StatusOr<pid_t> recorder = StartProcess(
      {Driver(), "record", "-o", trace, "--", KnownCalls(),
       dir + "/expected.txt", "--forever", "--pid-file=" + pid_file},
      {dir + "/console.txt"});
  ASSERT_TRUE(recorder.ok());
  int64_t pid = 0;
  for (int i = 0;
       i < 400 &&
       !absl::SimpleAtoi(absl::StripAsciiWhitespace(ReadFileOrEmpty(pid_file)),
                         &pid);
       ++i) {
    absl::SleepFor(absl::Milliseconds(25));
  }
  ASSERT_GT(pid, 0);
  // Long enough for several periodic flushes.
  absl::SleepFor(absl::Milliseconds(800));
  kill(static_cast<pid_t>(pid), SIGKILL);
  absl::StatusOr<int> code = WaitProcess(*recorder, absl::Seconds(30));
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 128 + SIGKILL);
  absl::StatusOr<TraceContents> contents = ReadWholeTrace(trace);
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_FALSE(contents->trailer.has_value());
  EXPECT_THAT(contents->warnings, ::testing::Not(::testing::IsEmpty()));
  EXPECT_GT(contents->events.size(), 1000u);
  EXPECT_TRUE(CheckOrder(*contents, /*allow_unknown_frees=*/true).ok());
  EXPECT_THAT(ReadFileOrEmpty(dir + "/console.txt"),
              ::testing::HasSubstr("killed by signal 9"));
}

int ChildPid(const std::string& expectations) {
  for (absl::string_view line : absl::StrSplit(expectations, '\n')) {
    int pid = 0;
    if (absl::ConsumePrefix(&line, "child ") && absl::SimpleAtoi(line, &pid)) {
      return pid;
    }
  }
  return 0;
}

TEST(FailureModesTest, ForkedChildRecordsIntoItsOwnFile) {
  const std::string dir = TestDirectory("fork_record");
  const std::string trace = dir + "/parent.slabtrace";
  absl::StatusOr<int> code =
      RunProcess({Driver(), "record", "-o", trace, "--", KnownCalls(),
                  dir + "/expected.txt", "--fork"},
                 absl::Seconds(120), {dir + "/console.txt"});
  ASSERT_TRUE(code.ok());
  ASSERT_EQ(*code, 0) << ReadFileOrEmpty(dir + "/console.txt");
  const int child = ChildPid(ReadFileOrEmpty(dir + "/expected.txt"));
  ASSERT_GT(child, 0);
  absl::StatusOr<TraceContents> contents =
      ReadWholeTrace(absl::StrCat(trace, ".", child));
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_EQ(contents->header.pid(), child);
  int blocks = 0;
  for (const Event& event : contents->events) {
    if (event.kind == EventKind::kAlloc && event.size == 33333) ++blocks;
  }
  EXPECT_EQ(blocks, 3);
  ASSERT_TRUE(contents->trailer.has_value());
  EXPECT_TRUE(contents->trailer->complete());
  EXPECT_TRUE(
      CheckSymmetricAccounting(*contents->trailer, contents->CountEvents())
          .ok());
  // The parent's own trace is unharmed.
  absl::StatusOr<TraceContents> parent = ReadWholeTrace(trace);
  ASSERT_TRUE(parent.ok()) << parent.status();
  ASSERT_TRUE(parent->trailer.has_value());
  EXPECT_TRUE(parent->trailer->complete());
}

TEST(FailureModesTest, ForkedChildStopsCleanlyWhenAsked) {
  const std::string dir = TestDirectory("fork_stop");
  const std::string trace = dir + "/parent.slabtrace";
  absl::StatusOr<int> code =
      RunProcess({Driver(), "record", "-o", trace, "--on-fork=stop", "--",
                  KnownCalls(), dir + "/expected.txt", "--fork"},
                 absl::Seconds(120), {dir + "/console.txt"});
  ASSERT_TRUE(code.ok());
  ASSERT_EQ(*code, 0) << ReadFileOrEmpty(dir + "/console.txt");
  const int child = ChildPid(ReadFileOrEmpty(dir + "/expected.txt"));
  ASSERT_GT(child, 0);
  EXPECT_FALSE(Exists(absl::StrCat(trace, ".", child)));
  absl::StatusOr<TraceContents> parent = ReadWholeTrace(trace);
  ASSERT_TRUE(parent.ok()) << parent.status();
  ASSERT_TRUE(parent->trailer.has_value());
  EXPECT_TRUE(parent->trailer->complete());
  for (const Event& event : parent->events) {
    EXPECT_NE(event.size, 33333u) << "a child's event in the parent's trace";
  }
}

}  // namespace
}  // namespace slabtrace
