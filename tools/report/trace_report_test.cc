#include "tools/report/trace_report.h"

#include <cstdlib>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/report/html_report.h"
#include "tools/report/testing/scatter_delete_trace.h"

namespace slabtrace {
namespace {

using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr uint32_t kSlabs = 64;
constexpr uint32_t kClass1280 = 21;  // in jemalloc 5.3's x86-64 table

std::string FixturePath() {
  static const std::string path = [] {
    const char* dir = std::getenv("TEST_TMPDIR");
    std::string p = std::string(dir ? dir : "/tmp") + "/scatter.slabtrace";
    const absl::Status status = WriteScatterDeleteTrace(p, kSlabs);
    EXPECT_TRUE(status.ok()) << status;
    return p;
  }();
  return path;
}

const PolicyAtMarker* FindPolicy(const MarkerReport& marker,
                                 const std::string& name) {
  for (const PolicyAtMarker& row : marker.policies) {
    if (row.policy == name) return &row;
  }
  return nullptr;
}

TEST(TraceReportTest, ScatterDeleteWithPolicies) {
  TraceReportOptions options;
  options.policies = {"recorded", "jemalloc", "first-fit", "oracle"};
  absl::StatusOr<ReportInput> input = BuildReportInput(FixturePath(), options);
  ASSERT_TRUE(input.ok()) << input.status();

  EXPECT_EQ(input->facts.file, "scatter.slabtrace");
  EXPECT_EQ(input->facts.program, "scatter-delete-fixture --slabs=64");
  EXPECT_EQ(input->facts.threads, 2u);
  EXPECT_EQ(input->facts.allocator, "jemalloc");

  // The trace ends at "after-delete": no separate "end".
  ASSERT_EQ(input->markers.size(), 2u);
  EXPECT_EQ(input->markers[0].label, "after-fill");
  EXPECT_EQ(input->markers[1].label, "after-delete");
  const MarkerReport& deleted = input->markers[1];

  // Slab map: every 1280-byte slab at 8 of 16 after the delete.
  const SlabMapData* map = nullptr;
  for (const SlabMapData& m : deleted.slab_maps) {
    if (m.size_class == kClass1280) map = &m;
  }
  ASSERT_NE(map, nullptr);
  EXPECT_EQ(map->region_size, 1280u);
  EXPECT_EQ(map->nregs, 16u);
  EXPECT_EQ(map->live.size(), kSlabs);
  EXPECT_THAT(map->live, Each(8u));
  EXPECT_EQ(DefaultSlabMapClass(*input), kClass1280);

  // Histogram and class table from the replay.
  EXPECT_GE(deleted.histogram[5], kSlabs);
  bool found_class = false;
  for (const ClassAtMarker& c : deleted.classes) {
    if (c.size_class != kClass1280) continue;
    found_class = true;
    EXPECT_EQ(c.pinned, kSlabs);
    EXPECT_EQ(c.live_objects, kSlabs * 8);
    EXPECT_TRUE(c.dsr_defined);
    EXPECT_EQ(c.dsr, 0);
  }
  EXPECT_TRUE(found_class);

  // Policies, from the simulator, since the previous marker.
  ASSERT_EQ(deleted.policies.size(), 4u);
  EXPECT_EQ(FindPolicy(deleted, "recorded")->dsr, 0);
  EXPECT_EQ(FindPolicy(deleted, "jemalloc")->dsr, 0);
  EXPECT_EQ(FindPolicy(deleted, "first-fit")->dsr, 0);
  EXPECT_GE(FindPolicy(deleted, "oracle")->dsr, 0.45);
  // And in the 1280-byte class alone.
  for (const PolicyAtMarker& row : deleted.policies) {
    const PolicyClassDsr* c = nullptr;
    for (const PolicyClassDsr& x : row.classes) {
      if (x.size_class == kClass1280) c = &x;
    }
    ASSERT_NE(c, nullptr) << row.policy;
    EXPECT_TRUE(c->defined);
    if (row.policy == "oracle") {
      EXPECT_GE(c->dsr, 0.45);
    } else {
      EXPECT_EQ(c->dsr, 0) << row.policy;
    }
  }

  // Timelines: one point per sweep; DSR per policy at each marker;
  // footprint per policy at every simulator sweep.
  const ReportTimeline& t = input->timeline;
  EXPECT_GT(t.time_ns.size(), 10u);
  EXPECT_LE(t.time_ns.size(), 2000u + 3);
  EXPECT_EQ(t.footprint_bytes.size(), t.time_ns.size());
  EXPECT_THAT(t.policies,
              ElementsAre("recorded", "jemalloc", "first-fit", "oracle"));
  EXPECT_EQ(t.dsr_series, t.policies);
  ASSERT_EQ(t.dsr.size(), 4u);
  EXPECT_EQ(t.dsr_time_ns.size(), 2u);
  EXPECT_EQ(t.dsr[3][1], FindPolicy(deleted, "oracle")->dsr);
  ASSERT_EQ(t.policy_footprint_bytes.size(), 4u);
  EXPECT_GT(t.policy_time_ns.size(), 10u);
  // After the delete the oracle keeps about half of recorded's footprint.
  EXPECT_LT(t.policy_footprint_bytes[3].back(),
            0.6 * t.policy_footprint_bytes[0].back());
}

TEST(TraceReportTest, WithoutPoliciesShowsTheRecordedDsrSinceTheMarker) {
  absl::StatusOr<ReportInput> input = BuildReportInput(FixturePath(), {});
  ASSERT_TRUE(input.ok()) << input.status();
  EXPECT_TRUE(input->timeline.policies.empty());
  EXPECT_THAT(input->timeline.dsr_series, ElementsAre("recorded"));
  EXPECT_EQ(input->timeline.dsr[0].size(), input->timeline.time_ns.size());
  EXPECT_EQ(input->timeline.dsr_window, "since the previous marker");
  EXPECT_TRUE(input->markers[1].policies.empty());
}

TEST(TraceReportTest, SameTraceSameReport) {
  TraceReportOptions options;
  options.policies = {"recorded", "oracle"};
  absl::StatusOr<ReportInput> a = BuildReportInput(FixturePath(), options);
  absl::StatusOr<ReportInput> b = BuildReportInput(FixturePath(), options);
  ASSERT_TRUE(a.ok() && b.ok());
  const std::string html = RenderHtmlReport(*a);
  EXPECT_EQ(html, RenderHtmlReport(*b));
  EXPECT_THAT(html, HasSubstr("oracle <b>"));
}

TEST(TraceReportTest, ChosenClassMustExist) {
  TraceReportOptions options;
  options.class_size = 1280;
  absl::StatusOr<ReportInput> input = BuildReportInput(FixturePath(), options);
  ASSERT_TRUE(input.ok()) << input.status();
  EXPECT_EQ(input->chosen_class, kClass1280);
  options.class_size = 1000;
  input = BuildReportInput(FixturePath(), options);
  EXPECT_EQ(input.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(input.status().message(), HasSubstr("--class 1000"));
}

TEST(TraceReportTest, BadInputIsAnErrorNamingIt) {
  TraceReportOptions options;
  options.policies = {"no-such-policy"};
  EXPECT_FALSE(BuildReportInput(FixturePath(), options).ok());
  absl::StatusOr<ReportInput> missing =
      BuildReportInput("/nonexistent/x.slabtrace", {});
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(),
              HasSubstr("/nonexistent/x.slabtrace"));
}

}  // namespace
}  // namespace slabtrace
