// End to end: the hooks way in (record/internal/hooks.h). A program with its
// own statically linked jemalloc is recorded through jemalloc's hooks with
// exactly its calls; forcing hooks on a program that uses the shared
// libjemalloc gives a trace whose call counts still match its events.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/event.h"
#include "record/call_accounting.h"
#include "record/testing/subprocess.h"
#include "record/testing/trace_contents.h"

namespace slabtrace {
namespace {

struct ExpectedEvent {
  std::string kind;
  std::string api;
  uint64_t ptr = 0;
  uint64_t size = 0;
};

std::vector<ExpectedEvent> ParseExpected(const std::string& text) {
  std::vector<ExpectedEvent> expected;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    const std::vector<std::string> fields = absl::StrSplit(line, ' ');
    if (fields.size() != 4) {
      ADD_FAILURE() << "bad line: " << line;
      continue;
    }
    ExpectedEvent event{fields[0], fields[1]};
    EXPECT_TRUE(absl::SimpleAtoi(fields[2], &event.ptr));
    EXPECT_TRUE(absl::SimpleAtoi(fields[3], &event.size));
    expected.push_back(event);
  }
  return expected;
}

// The same known calls through a program's own jemalloc, exported with
// its public names (as a static link with -rdynamic gives) or with the je_
// prefix that upstream Redis's copy has (where the program's plain malloc
// is libc's and the preloaded interposer must stay out of the way).
class OwnJemallocTest : public testing::TestWithParam<const char*> {};

TEST_P(OwnJemallocTest, ProgramWithItsOwnJemallocIsRecordedThroughHooks) {
  const std::string program = GetParam();
  const std::string dir = TestDirectory(program);
  const std::string trace_path = dir + "/static.slabtrace";
  const std::string expected_path = dir + "/expected.txt";
  absl::StatusOr<int> code = RunProcess(
      {RunfilePath("record/testing/record_driver"), "record", "-o", trace_path,
       "--", RunfilePath("record/testing/" + program), expected_path},
      absl::Seconds(60), {dir + "/console.txt"});
  ASSERT_TRUE(code.ok()) << code.status();
  ASSERT_EQ(*code, 0) << ReadFileOrEmpty(dir + "/console.txt");
  absl::StatusOr<TraceContents> trace = ReadWholeTrace(trace_path);
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(trace->header.metadata().at("recorder.way_in"),
            "hooks (the program's own jemalloc)");
  ASSERT_TRUE(trace->trailer.has_value());
  EXPECT_TRUE(trace->trailer->complete())
      << trace->trailer->incomplete_reason();

  const std::vector<ExpectedEvent> expected =
      ParseExpected(ReadFileOrEmpty(expected_path));
  ASSERT_GT(expected.size(), 10u);
  const std::vector<Event>& events = trace->events;
  size_t begin = 0;
  while (begin < events.size() && events[begin].ptr != expected[0].ptr) {
    ++begin;
  }
  ASSERT_LE(begin + expected.size(), events.size())
      << "the sentinel malloc(11111) is not in the trace";
  for (size_t i = 0; i < expected.size(); ++i) {
    const Event& got = events[begin + i];
    EXPECT_EQ(EventKindName(got.kind), expected[i].kind) << "event " << i;
    EXPECT_EQ(AllocApiName(got.api), expected[i].api) << "event " << i;
    EXPECT_EQ(got.ptr, expected[i].ptr) << "event " << i;
    EXPECT_EQ(got.size, expected[i].size) << "event " << i;
  }
  const absl::Status order = CheckOrder(*trace, /*allow_unknown_frees=*/true);
  EXPECT_TRUE(order.ok()) << order;
  const absl::Status symmetric =
      CheckSymmetricAccounting(*trace->trailer, trace->CountEvents());
  EXPECT_TRUE(symmetric.ok()) << symmetric;
  // The statistics come from the program's jemalloc: the exit marker sees
  // the 11111-byte sentinel's large class live... or at least some live
  // small regions of the program (its stdio buffers, the sentinels' peers).
  ASSERT_FALSE(trace->markers.empty());
  const Marker& exit_marker = trace->markers.back();
  ASSERT_TRUE(exit_marker.has_stats());
  uint64_t live_regions = 0;
  for (const BinStats& bin : exit_marker.stats().bins()) {
    live_regions += bin.curregs();
  }
  EXPECT_GT(live_regions, 0u);
}

INSTANTIATE_TEST_SUITE_P(HooksTest, OwnJemallocTest,
                         testing::Values("static_jemalloc_calls",
                                         "je_prefixed_jemalloc_calls"));

TEST(HooksTest, ForcedHooksOnTheSharedJemallocKeepCallsAndEventsInStep) {
  const std::string dir = TestDirectory("forced_hooks");
  const std::string trace_path = dir + "/forced.slabtrace";
  absl::StatusOr<int> code = RunProcess(
      {RunfilePath("record/testing/record_driver"), "record", "-o", trace_path,
       "--way-in=hooks", "--", RunfilePath("record/testing/known_calls"),
       dir + "/expected.txt", "--churn=20000"},
      absl::Seconds(60), {dir + "/console.txt"});
  ASSERT_TRUE(code.ok()) << code.status();
  ASSERT_EQ(*code, 0) << ReadFileOrEmpty(dir + "/console.txt");
  absl::StatusOr<TraceContents> trace = ReadWholeTrace(trace_path);
  ASSERT_TRUE(trace.ok()) << trace.status();
  EXPECT_EQ(trace->header.metadata().at("recorder.way_in"), "hooks");
  ASSERT_TRUE(trace->trailer.has_value());
  EXPECT_TRUE(trace->trailer->complete());
  EXPECT_GT(trace->events.size(), 40000u);
  const absl::Status order = CheckOrder(*trace, /*allow_unknown_frees=*/true);
  EXPECT_TRUE(order.ok()) << order;
  const absl::Status symmetric =
      CheckSymmetricAccounting(*trace->trailer, trace->CountEvents());
  EXPECT_TRUE(symmetric.ok()) << symmetric;
}

}  // namespace
}  // namespace slabtrace
