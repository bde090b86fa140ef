#include "tools/report/html_report.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/report/svg_chart.h"
#include "tools/report/testing/synthetic_report.h"

namespace slabtrace {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

// The value of `attribute="..."` on the element with id `id`.
std::string AttributeOf(const std::string& html, const std::string& id,
                        const std::string& attribute) {
  const size_t element = html.find("id=\"" + id + "\"");
  if (element == std::string::npos) return "";
  const size_t end = html.find('>', element);
  const std::string key = " " + attribute + "=\"";
  const size_t at = html.find(key, element);
  if (at == std::string::npos || at > end) return "";
  const size_t begin = at + key.size();
  return html.substr(begin, html.find('"', begin) - begin);
}

TEST(HtmlReportTest, SameInputSameBytes) {
  const ReportInput input = ScatterDeleteReport();
  EXPECT_EQ(RenderHtmlReport(input), RenderHtmlReport(input));
}

TEST(HtmlReportTest, HasEverySectionAndChart) {
  const std::string html = RenderHtmlReport(ScatterDeleteReport());
  for (const char* id :
       {"headline", "chart-memory", "chart-dsr", "chart-policy-footprint",
        "policies-0", "policies-1", "chart-histogram", "class-select",
        "slabmap-0-21", "slabmap-1-21", "slabmap-1-4", "classes-0", "classes-1",
        "tooltip"}) {
    EXPECT_THAT(html, HasSubstr(std::string("id=\"") + id + "\"")) << id;
  }
  // Header facts.
  EXPECT_THAT(html, HasSubstr("/usr/bin/redis-server --port 6390 --save "
                              "&#39;&#39; --appendonly no"));
  EXPECT_THAT(html, HasSubstr("jemalloc 5.3.0-0-g54eaed1d8b"));
  EXPECT_THAT(html, HasSubstr("<dd>300,000</dd>"));  // events
  EXPECT_THAT(html, HasSubstr("<dd>20.00 s</dd>"));  // duration
  // One table row per policy at each marker, one legend entry per policy.
  EXPECT_EQ(Count(html, ">oracle</td>"), 2u);
  EXPECT_THAT(html, HasSubstr(">compact</text>"));
}

TEST(HtmlReportTest, HeadlineTellsTheScatterDeleteStory) {
  const std::string html = RenderHtmlReport(ScatterDeleteReport());
  const size_t begin = html.find("id=\"headline\"");
  const std::string headline =
      html.substr(begin, html.find("</p>", begin) - begin);
  EXPECT_THAT(headline, HasSubstr("after-delete"));
  EXPECT_THAT(headline, HasSubstr("Class 1280 B: 6,250 slabs pinned, on "
                                  "average <b>50.0 % full"));
  EXPECT_THAT(headline, HasSubstr("jemalloc <b>0.0 %</b>"));
  EXPECT_THAT(headline, HasSubstr("oracle <b>50.0 %</b>"));
  EXPECT_THAT(headline, HasSubstr("In class 1280 B alone: recorded <b>0.0 %"));
  EXPECT_THAT(html, HasSubstr("<th>DSR in 1280 B</th>"));
}

TEST(HtmlReportTest, NoClassColumnWithoutClassRows) {
  ReportInput input = ScatterDeleteReport();
  for (MarkerReport& m : input.markers) {
    for (PolicyAtMarker& row : m.policies) row.classes.clear();
  }
  const std::string html = RenderHtmlReport(input);
  EXPECT_THAT(html, Not(HasSubstr("<th>DSR in")));
  EXPECT_THAT(html, Not(HasSubstr("alone:")));
}

TEST(HtmlReportTest, HeadlineIsAboutTheLargestFallInLiveData) {
  ReportInput input = ScatterDeleteReport();
  // A later marker (e.g. at shutdown) with nothing new must not hide the
  // delete.
  MarkerReport exit_marker = input.markers.back();
  exit_marker.label = "exit";
  for (PolicyAtMarker& row : exit_marker.policies) row.dsr = 0;
  input.markers.push_back(exit_marker);
  const std::string html = RenderHtmlReport(input);
  const size_t begin = html.find("id=\"headline\"");
  const std::string headline =
      html.substr(begin, html.find("</p>", begin) - begin);
  EXPECT_THAT(headline, HasSubstr("after-delete"));
  uint64_t live_before = 0;
  for (const ClassAtMarker& c : input.markers[0].classes) {
    live_before += c.live_bytes;
  }
  EXPECT_THAT(headline,
              HasSubstr("after live data fell from " +
                        FormatQuantity(static_cast<double>(live_before),
                                       Unit::kBytes)));
  EXPECT_THAT(headline, HasSubstr("oracle <b>50.0 %</b>"));
  EXPECT_THAT(headline, Not(HasSubstr("exit")));
}

TEST(HtmlReportTest, DefaultClassIsTheOneWithTheMostPinnedSlabs) {
  ReportInput input = ScatterDeleteReport();
  EXPECT_EQ(DefaultSlabMapClass(input), 21);
  // Make the 64-byte class (900 slabs) win at the last marker.
  input.markers.back().slab_maps[1].live.resize(10);
  EXPECT_EQ(DefaultSlabMapClass(input), 4);
  const std::string html = RenderHtmlReport(input);
  EXPECT_THAT(html, HasSubstr("<option value=\"4\" selected>"));
  EXPECT_THAT(html, HasSubstr("data-map-class=\"21\" hidden"));
  EXPECT_THAT(html, Not(HasSubstr("data-map-class=\"4\" hidden")));
  input.chosen_class = 21;
  EXPECT_THAT(RenderHtmlReport(input),
              HasSubstr("<option value=\"21\" selected>"));
  EXPECT_EQ(DefaultSlabMapClass(ReportInput{}), -1);
}

TEST(HtmlReportTest, SlabMapShowsEveryHalfFullSlab) {
  const std::string html = RenderHtmlReport(ScatterDeleteReport());
  const std::string cells = AttributeOf(html, "slabmap-1-21", "data-cells");
  ASSERT_EQ(cells.size(), 6250u);            // one cell per slab: within budget
  EXPECT_EQ(cells, std::string(6250, 'K'));  // 'A' + 10: 50 %
  EXPECT_EQ(AttributeOf(html, "slabmap-0-21", "data-cells"),
            std::string(6250, 'U'));  // full before the delete
  EXPECT_THAT(html, HasSubstr("one cell per slab"));
}

TEST(HtmlReportTest, LargeSlabMapsAreAggregatedAndSaySo) {
  SyntheticReportShape shape;
  shape.slabs = 100000;
  HtmlReportOptions options;
  options.slab_map_cell_budget = 5000;
  const std::string html =
      RenderHtmlReport(ScatterDeleteReport(shape), options);
  const std::string cells = AttributeOf(html, "slabmap-1-21", "data-cells");
  EXPECT_EQ(cells.size(), 5000u);
  EXPECT_EQ(AttributeOf(html, "slabmap-1-21", "data-group"), "20");
  EXPECT_THAT(html, HasSubstr("each cell groups 20 adjacent slabs"));
}

TEST(HtmlReportTest, TraceTextIsEscaped) {
  SyntheticReportShape shape;
  shape.label_suffix = "<img src=x onerror=alert(1)>";
  ReportInput input = ScatterDeleteReport(shape);
  input.facts.program = "</script><script>alert(2)</script>";
  input.timeline.policies[0] = "<b>evil</b>";
  input.timeline.dsr_series[0] = "<b>evil</b>";
  const std::string html = RenderHtmlReport(input);
  EXPECT_THAT(html, Not(HasSubstr("<img")));
  EXPECT_THAT(html, Not(HasSubstr("alert(2)</script>")));
  EXPECT_THAT(html, Not(HasSubstr("<b>evil")));
  EXPECT_THAT(html, HasSubstr("after-fill&lt;img src=x onerror=alert(1)&gt;"));
}

TEST(HtmlReportTest, NeedsNoNetworkAndNoOtherFile) {
  const std::string html = RenderHtmlReport(ScatterDeleteReport());
  EXPECT_THAT(html, Not(HasSubstr("<link")));
  EXPECT_THAT(html, Not(HasSubstr(" src=")));
  EXPECT_THAT(html, Not(HasSubstr("url(http")));
  EXPECT_THAT(html, Not(HasSubstr("@import")));
  // The only URL is the SVG namespace name, which is never fetched.
  EXPECT_EQ(Count(html, "http"), Count(html, "http://www.w3.org/2000/svg"));
}

TEST(HtmlReportTest, EmptyInputStillRenders) {
  const std::string html = RenderHtmlReport(ReportInput{});
  EXPECT_THAT(html, HasSubstr("id=\"chart-memory\""));
  EXPECT_THAT(html, HasSubstr("no data"));
  EXPECT_THAT(html, HasSubstr("No slab maps in this report."));
  EXPECT_THAT(html, HasSubstr("</html>"));
}

// The size bound of a report from a 100 M-event trace: a million sweeps and
// 500,000 slabs in each of two classes (one of them with uneven fill, the
// costliest map to draw) at two markers stay under 5 MiB.
TEST(HtmlReportTest, HugeInputStaysUnderFiveMiB) {
  SyntheticReportShape shape;
  shape.sweeps = 1000000;
  shape.slabs = 500000;
  shape.small_class_slabs = 500000;
  const std::string html = RenderHtmlReport(ScatterDeleteReport(shape));
  EXPECT_LT(html.size(), 5u << 20);
  // Each line series is downsampled: 3 memory series + 8 policies.
  const size_t memory_begin = html.find("id=\"chart-memory\"");
  const std::string memory = html.substr(
      memory_begin, html.find("</svg>", memory_begin) - memory_begin);
  EXPECT_LE(Count(memory, "L"), 3u * 2002);
  EXPECT_THAT(html, HasSubstr("each cell groups"));
}

}  // namespace
}  // namespace slabtrace
