#include "tools/report/svg_chart.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace slabtrace {
namespace {

using ::testing::ElementsAre;
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

TEST(HtmlEscapeTest, EscapesEveryMarkupCharacter) {
  EXPECT_EQ(HtmlEscape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
  EXPECT_EQ(HtmlEscape("plain"), "plain");
}

TEST(FormatQuantityTest, HumanisesEachUnit) {
  EXPECT_EQ(FormatQuantity(512, Unit::kBytes), "512 B");
  EXPECT_EQ(FormatQuantity(1536, Unit::kBytes), "1.5 KiB");
  EXPECT_EQ(FormatQuantity(3.0 * 1024 * 1024 * 1024, Unit::kBytes), "3.0 GiB");
  EXPECT_EQ(FormatQuantity(0.4994, Unit::kFraction), "49.9 %");
  EXPECT_EQ(FormatQuantity(6251, Unit::kCount), "6,251");
  EXPECT_EQ(FormatQuantity(1234567, Unit::kCount), "1,234,567");
  EXPECT_EQ(FormatQuantity(-1000, Unit::kCount), "-1,000");
  EXPECT_EQ(FormatQuantity(0.25, Unit::kSeconds), "250.0 ms");
  EXPECT_EQ(FormatQuantity(12.5, Unit::kSeconds), "12.50 s");
  EXPECT_EQ(FormatQuantity(std::nan(""), Unit::kBytes), "n/a");
}

TEST(AxisScaleTest, PicksAReadableUnitAndCoversTheRange) {
  const double mib = 1024.0 * 1024;
  const AxisScale scale = MakeAxisScale(0, 122.1 * mib, Unit::kBytes);
  EXPECT_EQ(scale.suffix, "MiB");
  ASSERT_GE(scale.ticks.size(), 3u);
  EXPECT_EQ(scale.ticks.front(), 0);
  EXPECT_GE(scale.ticks.back(), 122.1 * mib);
  EXPECT_EQ(scale.max, scale.ticks.back());
  for (size_t i = 1; i < scale.ticks.size(); ++i) {
    EXPECT_GT(scale.ticks[i], scale.ticks[i - 1]);
  }
  EXPECT_EQ(FormatTick(scale.ticks[1], scale), "25");
}

TEST(AxisScaleTest, FractionsArePercentAndQuartersKeepADigit) {
  const AxisScale percent = MakeAxisScale(0, 1, Unit::kFraction);
  EXPECT_EQ(percent.suffix, "%");
  EXPECT_EQ(FormatTick(1, percent), "100");
  const AxisScale seconds = MakeAxisScale(0, 10, Unit::kSeconds, 4);
  EXPECT_EQ(seconds.suffix, "s");
  EXPECT_EQ(FormatTick(seconds.ticks[1], seconds), "2.5");
  EXPECT_EQ(MakeAxisScale(0, 0.2, Unit::kSeconds).suffix, "ms");
}

TEST(AxisScaleTest, DegenerateRangesStillHaveTicks) {
  EXPECT_GE(MakeAxisScale(5, 5, Unit::kCount).ticks.size(), 2u);
  EXPECT_GE(MakeAxisScale(0, std::nan(""), Unit::kBytes).ticks.size(), 2u);
}

TEST(DownsampleTest, KeepsEverythingWithinBudget) {
  std::vector<double> y = {1, 2, 3};
  EXPECT_THAT(DownsampleMinMax(y, 10), ElementsAre(0, 1, 2));
}

TEST(DownsampleTest, KeepsSpikesAndEndsWithinBudget) {
  std::vector<double> y(1000000, 1.0);
  y[543210] = 1e9;
  y[123456] = -5;
  const std::vector<size_t> keep = DownsampleMinMax(y, 2000);
  EXPECT_LE(keep.size(), 2002u);
  EXPECT_EQ(keep.front(), 0u);
  EXPECT_EQ(keep.back(), y.size() - 1);
  EXPECT_NE(std::find(keep.begin(), keep.end(), 543210u), keep.end());
  EXPECT_NE(std::find(keep.begin(), keep.end(), 123456u), keep.end());
  for (size_t i = 1; i < keep.size(); ++i) EXPECT_LT(keep[i - 1], keep[i]);
}

TEST(DownsampleTest, KeepsGaps) {
  std::vector<double> y(100000, 2.0);
  y[50000] = std::numeric_limits<double>::quiet_NaN();
  const std::vector<size_t> keep = DownsampleMinMax(y, 1000);
  EXPECT_NE(std::find(keep.begin(), keep.end(), 50000u), keep.end());
}

LineChartSpec TwoSeriesChart() {
  LineChartSpec spec;
  spec.id = "c1";
  spec.title = "memory <over> time";
  spec.series.push_back(
      {"footprint", SeriesColour(0), {0, 1, 2}, {10, 20, 30}});
  spec.series.push_back(
      {"live", SeriesColour(1), {0, 1, 2}, {5, std::nan(""), 15}, true});
  spec.markers.push_back({1, "after-delete"});
  return spec;
}

TEST(LineChartTest, HasAxesLegendMarkersAndEscapedText) {
  const std::string svg = RenderLineChart(TwoSeriesChart());
  EXPECT_THAT(svg, HasSubstr("<svg id=\"c1\""));
  EXPECT_THAT(svg, HasSubstr("memory &lt;over&gt; time"));
  EXPECT_THAT(svg, Not(HasSubstr("<over>")));
  EXPECT_THAT(svg, HasSubstr(">footprint</text>"));
  EXPECT_THAT(svg, HasSubstr(">live</text>"));
  EXPECT_THAT(svg, HasSubstr("class=\"marker-label\">after-delete</text>"));
  EXPECT_THAT(svg, HasSubstr("(s)</text>"));  // x axis unit
  EXPECT_THAT(svg, HasSubstr("(B)</text>"));  // y axis unit
  EXPECT_THAT(svg, HasSubstr("stroke-dasharray=\"7 4\""));
  // The NaN breaks the second line into two one-point pieces: no "L".
  EXPECT_EQ(Count(svg, "<path d=\"M"), 2u);
  EXPECT_EQ(svg, RenderLineChart(TwoSeriesChart()));
}

TEST(LineChartTest, LongSeriesAreDownsampled) {
  LineChartSpec spec;
  spec.id = "big";
  LineSeries series{"s", SeriesColour(0), {}, {}};
  for (int i = 0; i < 500000; ++i) {
    series.x.push_back(i);
    series.y.push_back(i % 1000);
  }
  spec.series.push_back(series);
  spec.max_points_per_series = 2000;
  const std::string svg = RenderLineChart(spec);
  EXPECT_LE(Count(svg, "L"), 2100u);
  EXPECT_LT(svg.size(), 60000u);
}

TEST(LineChartTest, StepSeriesDrawEachValueOverItsWindow) {
  LineChartSpec spec;
  spec.id = "steps";
  spec.x_min = 0;
  spec.x_max = 10;
  spec.y_min = 0;
  spec.y_max = 1;
  LineSeries series{"dsr", SeriesColour(0), {5, 10}, {0, 0.5}};
  series.step_before = true;
  spec.series.push_back(series);
  const std::string svg = RenderLineChart(spec);
  // From the left edge (x = 0 -> 76 px) at 0 to the first marker, then up
  // to 50 % and across to the second.
  EXPECT_THAT(svg, HasSubstr("<path d=\"M76 294H576V175H1076\""));
}

TEST(LineChartTest, EmptyChartSaysNoData) {
  LineChartSpec spec;
  spec.id = "empty";
  EXPECT_THAT(RenderLineChart(spec), HasSubstr("no data"));
}

TEST(BarChartTest, OneBarPerNonZeroValue) {
  BarChartSpec spec;
  spec.id = "bars";
  spec.categories = {"a", "b", "c"};
  spec.series.push_back({"m1", SeriesColour(0), {1, 0, 3}});
  spec.series.push_back({"m<2>", SeriesColour(1), {0, 2, 0}});
  const std::string svg = RenderBarChart(spec);
  EXPECT_EQ(Count(svg, "<rect x="), 3u + 2u);  // 3 bars + 2 legend swatches
  EXPECT_THAT(svg, HasSubstr("m&lt;2&gt;, b: 2</title>"));
}

TEST(CellMapTest, UniformRowsCollapseToOneRectanglePerRow) {
  CellMapSpec spec;
  spec.id = "map";
  spec.fill.assign(1000, 0.5);
  spec.columns = 100;
  const std::string svg = RenderCellMap(spec);
  // Background, one colour path, grid pattern path.
  EXPECT_EQ(Count(svg, "<path "), 3u);
  EXPECT_EQ(Count(svg, "h100v.5h-100z"), 10u);
  EXPECT_THAT(svg, HasSubstr(OccupancyColour(5)));
  EXPECT_THAT(svg, HasSubstr("data-cells=\"" + std::string(1000, 'K') + "\""));
}

TEST(CellMapTest, EmptyCellsAreNotFilledAndSliversAreVisible) {
  CellMapSpec spec;
  spec.id = "map";
  spec.fill = {0, 0.01, 1.0};
  spec.columns = 3;
  spec.cell_px = 4;  // too small for grid lines
  const std::string svg = RenderCellMap(spec);
  EXPECT_THAT(svg, HasSubstr("M1 .95h1v.05h-1z"));          // sliver
  EXPECT_THAT(svg, HasSubstr("M2 0h1v1h-1z"));              // full
  EXPECT_THAT(svg, HasSubstr("<path d=\"M0 0h3v1h-3z\""));  // background
  EXPECT_EQ(Count(svg, "M0 "), 1u);  // only the background: cell 0 is empty
  EXPECT_THAT(svg, HasSubstr("data-cells=\"AAU\""));
}

TEST(OccupancyBucketTest, MatchesTheReplayHistogram) {
  EXPECT_EQ(OccupancyBucket(0), 0);
  EXPECT_EQ(OccupancyBucket(0.5), 5);
  EXPECT_EQ(OccupancyBucket(0.99), 9);
  EXPECT_EQ(OccupancyBucket(1.0), 9);
}

}  // namespace
}  // namespace slabtrace
