#include "tools/check_command.h"

#include <cmath>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/report.pb.h"

namespace slabtrace {
namespace {

using ::testing::HasSubstr;

Expectation Parse(const std::string& text) {
  absl::StatusOr<Expectation> e = ParseExpectation(text);
  EXPECT_TRUE(e.ok()) << e.status();
  return e.ok() ? *e : Expectation();
}

std::string ParseError(const std::string& text) {
  absl::StatusOr<Expectation> e = ParseExpectation(text);
  EXPECT_FALSE(e.ok()) << text;
  return std::string(e.status().message());
}

TEST(ParseExpectationTest, ReadsEveryPart) {
  Expectation e = Parse("pinned_slabs[1280]@deleted:first-fit<=7k");
  EXPECT_EQ(e.metric, "pinned_slabs");
  EXPECT_EQ(e.class_size, 1280);
  EXPECT_EQ(e.sweep, "deleted");
  EXPECT_EQ(e.policy, "first-fit");
  EXPECT_EQ(e.op, Expectation::Op::kLessEqual);
  EXPECT_EQ(e.threshold, 7000);
}

TEST(ParseExpectationTest, DefaultsAndUnits) {
  Expectation dsr = Parse("dsr@deleted>=40%");
  EXPECT_EQ(dsr.op, Expectation::Op::kGreaterEqual);
  EXPECT_DOUBLE_EQ(dsr.threshold, 0.4);
  EXPECT_EQ(dsr.policy, "");
  Expectation peak = Parse("peak_footprint<=64MiB");
  EXPECT_EQ(peak.sweep, "end");
  EXPECT_EQ(peak.policy, "recorded");
  EXPECT_EQ(peak.threshold, 64.0 * 1024 * 1024);
  EXPECT_EQ(Parse("footprint<2GB").threshold, 2e9);
  EXPECT_EQ(Parse("footprint>1e3").threshold, 1000);
  EXPECT_EQ(Parse("footprint_ratio@end:oracle<=1.2").threshold, 1.2);
  EXPECT_EQ(Parse("inconsistencies==0").op, Expectation::Op::kEqual);
  EXPECT_EQ(Parse("unknown_frees!=0").op, Expectation::Op::kNotEqual);
  EXPECT_EQ(Parse("live_objects>5").op, Expectation::Op::kGreater);
  EXPECT_EQ(Parse("live_objects<5").op, Expectation::Op::kLess);
}

TEST(ParseExpectationTest, RejectsBadSyntaxWithAReason) {
  EXPECT_THAT(ParseError("dsr@deleted"), HasSubstr("no comparison"));
  EXPECT_THAT(ParseError("dsx>=1"), HasSubstr("unknown metric 'dsx'"));
  EXPECT_THAT(ParseError("dsr>=abc"), HasSubstr("'abc' is not a number"));
  EXPECT_THAT(ParseError("dsr>="), HasSubstr("is not a number"));
  EXPECT_THAT(ParseError("dsr>=1MiB"), HasSubstr("does not apply"));
  EXPECT_THAT(ParseError("footprint<=1XB"), HasSubstr("unknown unit 'XB'"));
  EXPECT_THAT(ParseError("footprint_ratio<=1"), HasSubstr("needs a policy"));
  EXPECT_THAT(ParseError("packing_bound:oracle<=1"),
              HasSubstr("not reported per policy"));
  EXPECT_THAT(ParseError("inconsistencies@deleted==0"), HasSubstr("use @end"));
  EXPECT_THAT(ParseError("dsr[abc]>=0"), HasSubstr("not a size in bytes"));
  EXPECT_THAT(ParseError("dsr[12>=0"), HasSubstr("closing"));
  EXPECT_THAT(ParseError("peak_footprint[1280]:oracle<=1MiB"),
              HasSubstr("no per-class value per policy"));
  EXPECT_EQ(Parse("pinned_slabs[1280]:oracle<=10").class_size, 1280);
  EXPECT_THAT(ParseError("dsr@>=0"), HasSubstr("empty marker"));
  EXPECT_THAT(ParseError("dsr:>=0"), HasSubstr("empty policy"));
}

// A report of the published experiment's shape: 2 markers and the end.
Report ScatterDeleteReport() {
  Report report;
  for (const char* label : {"written", "deleted"}) {
    Sweep* sweep = report.add_sweeps();
    sweep->set_kind(Sweep::MARKER);
    sweep->set_label(label);
    Occupancy* total = sweep->mutable_total();
    total->set_pinned_slabs(7950);
    total->set_footprint_bytes(7950 * 20480);
    total->set_live_objects(std::string(label) == "written" ? 200000 : 100000);
    DsrWindow* dsr = total->mutable_dsr_since_marker();
    dsr->set_defined(std::string(label) == "deleted");
    dsr->set_dsr(0.02);
    ClassOccupancy* c = sweep->add_classes();
    c->set_class_size(1280);
    c->mutable_occupancy()->set_pinned_slabs(6251);
    sweep->mutable_ground_truth()->set_available(true);
    sweep->mutable_ground_truth()->set_classes_outside_bound(0);
  }
  Sweep* interval = report.add_sweeps();
  interval->set_kind(Sweep::INTERVAL);
  interval->mutable_total()->set_pinned_slabs(1);
  Sweep* end = report.add_sweeps();
  end->set_kind(Sweep::END);
  end->set_label("end");
  end->mutable_total()->set_footprint_bytes(100 << 20);
  report.mutable_validation()->set_unknown_frees(3);
  return report;
}

CheckResult Check(const MetricTable& table, const std::string& text) {
  absl::StatusOr<CheckResult> result = Evaluate(Parse(text), table);
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *result : CheckResult();
}

TEST(PoliciesToCompareTest, RecordedFirstThenEachOnceInOrder) {
  const std::vector<Expectation> named = {
      Parse("dsr@deleted:oracle>=0.4"), Parse("dsr@deleted>=0.1"),
      Parse("footprint:first-fit<=1MiB"), Parse("footprint_ratio:oracle<=1")};
  absl::StatusOr<std::vector<std::string>> policies =
      PoliciesToCompare(named, {"compact", "first-fit"});
  ASSERT_TRUE(policies.ok()) << policies.status();
  EXPECT_EQ(*policies, (std::vector<std::string>{"recorded", "oracle",
                                                 "first-fit", "compact"}));
  policies = PoliciesToCompare({Parse("dsr>=0")}, {});
  ASSERT_TRUE(policies.ok());
  EXPECT_TRUE(policies->empty());
  EXPECT_THAT(
      std::string(
          PoliciesToCompare({Parse("dsr:bogus>=0")}, {}).status().message()),
      HasSubstr("unknown policy 'bogus'"));
}

TEST(EvaluateTest, ViolationsReadLikeASentence) {
  MetricTable table;
  table.AddReplay(ScatterDeleteReport());
  CheckResult dsr = Check(table, "dsr@deleted>=0.4");
  EXPECT_FALSE(dsr.holds);
  EXPECT_EQ(dsr.message, "dsr at marker 'deleted' is 0.02, expected >= 0.40");
  CheckResult footprint = Check(table, "footprint<=64MiB");
  EXPECT_FALSE(footprint.holds);
  EXPECT_EQ(footprint.message,
            "footprint at end is 100.0 MiB, expected <= 64.0 MiB");
  EXPECT_TRUE(Check(table, "pinned_slabs[1280]@deleted>=6000").holds);
  EXPECT_EQ(Check(table, "pinned_slabs[1280]@deleted<6000").message,
            "pinned_slabs of class 1280 at marker 'deleted' is 6251, "
            "expected < 6000");
  EXPECT_TRUE(Check(table, "classes_outside_bound@written==0").holds);
  EXPECT_TRUE(Check(table, "unknown_frees==3").holds);
  EXPECT_TRUE(Check(table, "live_objects@written==200000").holds);
}

TEST(EvaluateTest, UndefinedDsrNeverHolds) {
  MetricTable table;
  table.AddReplay(ScatterDeleteReport());
  CheckResult result = Check(table, "dsr@written>=0");
  EXPECT_FALSE(result.holds);
  EXPECT_THAT(result.message, HasSubstr("is n/a"));
}

TEST(EvaluateTest, ValuesThatRoundAlikeArePrintedPrecisely) {
  MetricTable table;
  table.Set({"dsr", "end", "", -1}, 0.399);
  EXPECT_EQ(Check(table, "dsr>=0.4").message,
            "dsr at end is 0.399, expected >= 0.4");
}

TEST(EvaluateTest, MissingMarkerPolicyOrClassIsAnError) {
  MetricTable table;
  table.AddReplay(ScatterDeleteReport());
  absl::StatusOr<CheckResult> marker = Evaluate(Parse("dsr@gone>=0"), table);
  ASSERT_FALSE(marker.ok());
  EXPECT_THAT(marker.status().message(),
              HasSubstr("no marker 'gone' (markers: 'written', 'deleted')"));
  absl::StatusOr<CheckResult> policy =
      Evaluate(Parse("footprint_ratio:oracle<=1"), table);
  ASSERT_FALSE(policy.ok());
  EXPECT_THAT(policy.status().message(),
              HasSubstr("policy 'oracle' was not compared"));
  absl::StatusOr<CheckResult> size_class =
      Evaluate(Parse("pinned_slabs[48]@deleted<=1"), table);
  ASSERT_FALSE(size_class.ok());
  EXPECT_THAT(size_class.status().message(), HasSubstr("no size class of 48"));
}

TEST(MetricTableTest, FirstMarkerWinsButEndIsTheLast) {
  MetricTable table;
  table.Set({"live_objects", "phase", "", -1}, 1);
  table.Set({"live_objects", "phase", "", -1}, 2);
  table.Set({"live_objects", "end", "", -1}, 1);
  table.Set({"live_objects", "end", "", -1}, 2);
  EXPECT_EQ(*table.Lookup(Parse("live_objects@phase==0")), 1);
  EXPECT_EQ(*table.Lookup(Parse("live_objects==0")), 2);
}

}  // namespace
}  // namespace slabtrace
