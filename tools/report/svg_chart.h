// A small SVG writer for the charts of the HTML report: line charts with
// labelled vertical marker lines, grouped bar charts and a cell map. Every
// chart is a self-contained <svg> string with axes that carry units, a legend
// naming each series, and colours from palettes that colour-blind readers can
// tell apart (Okabe-Ito for series, viridis for occupancy).
//
// Promises:
//  - Deterministic: the same spec gives the same bytes (numbers are printed
//    with fixed precision; nothing depends on hash order or locale).
//  - Bounded: a line series longer than its point budget is downsampled with
//    min/max bucketing, so spikes stay visible and the output stays small.
//  - Safe: every text that reaches the output (names, labels, titles) is
//    HTML-escaped; labels come from traces and are not trusted.

#ifndef SLABTRACE_TOOLS_REPORT_SVG_CHART_H_
#define SLABTRACE_TOOLS_REPORT_SVG_CHART_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace slabtrace {

// Escapes &, <, >, " and ' so that `text` is safe in element content and in
// quoted attribute values.
std::string HtmlEscape(absl::string_view text);

// The i-th colour of the Okabe-Ito palette (wraps around after 8).
const char* SeriesColour(size_t i);

// Occupancy colours: buckets of live/nregs in tenths, 0 (nearly empty) to 9
// (nearly or completely full), from the viridis scale.
inline constexpr int kOccupancyBuckets = 10;
const char* OccupancyColour(int bucket);
// The bucket of an occupancy fraction, as the replay's histogram counts it:
// [i/10, (i+1)/10), with 1.0 in the last bucket.
int OccupancyBucket(double fraction);

// What an axis measures, which decides how its numbers are printed.
enum class Unit {
  kBytes,     // B, KiB, MiB, GiB chosen by magnitude
  kFraction,  // 0..1 printed as %
  kSeconds,   // ms or s chosen by magnitude
  kCount,     // plain, with k/M suffixes
};

// A humanised quantity for tables and captions: "1.5 MiB", "49.9 %",
// "3.20 s", "6,251".
std::string FormatQuantity(double value, Unit unit);

// The ticks of one axis over [min, max]: round numbers in a readable unit.
struct AxisScale {
  double min = 0;
  double max = 1;
  std::vector<double> ticks;  // in data units, within [min, max]
  double divisor = 1;         // data value / divisor = printed number
  std::string suffix;         // printed unit, e.g. "MiB" or "%"
  int decimals = 0;
};
AxisScale MakeAxisScale(double min, double max, Unit unit,
                        int target_ticks = 5);
// A tick label: the number in the axis' unit, without the suffix.
std::string FormatTick(double value, const AxisScale& scale);

// Indices of the points of `y` to draw so that at most `max_points` remain:
// the range is cut into max_points / 2 buckets of consecutive points and
// each keeps its minimum and maximum (in index order), so spikes survive.
// A bucket holding NaN (a gap) keeps one NaN as well so the gap survives;
// the result then may exceed max_points by at most one per bucket that has
// a gap. First and last points are always kept. All indices when
// y.size() <= max_points.
std::vector<size_t> DownsampleMinMax(absl::Span<const double> y,
                                     size_t max_points);

struct LineSeries {
  std::string name;
  std::string colour;
  std::vector<double> x;
  std::vector<double> y;  // same length as x; NaN breaks the line
  bool dashed = false;
  // Stroke width in px. Charts whose series often coincide (e.g. several
  // policies at DSR 0) give earlier series wider strokes so that each one
  // stays visible as a band around the later ones.
  double width = 2.2;
  // Each y[i] describes the interval (x[i-1], x[i]] (e.g. a ratio over the
  // window ending at a marker): drawn as a horizontal step over it, the
  // first from the left edge of the chart.
  bool step_before = false;
};

// A labelled vertical line, e.g. a trace marker.
struct VerticalMarker {
  double x = 0;
  std::string label;
};

struct LineChartSpec {
  std::string id;     // the <svg> element id
  std::string title;  // accessible name (aria-label and <title>)
  Unit x_unit = Unit::kSeconds;
  Unit y_unit = Unit::kBytes;
  std::string x_title;  // e.g. "trace time"; the unit is appended
  std::string y_title;
  std::vector<LineSeries> series;
  std::vector<VerticalMarker> markers;
  std::optional<double> y_min;  // fixed range (e.g. 0..1 for a ratio);
  std::optional<double> y_max;  // otherwise from the data, from 0
  std::optional<double> x_min;  // fixed range, so that charts of one page
  std::optional<double> x_max;  // line up; otherwise from the data
  int width = 1100;
  int height = 340;
  size_t max_points_per_series = 2000;
};
std::string RenderLineChart(const LineChartSpec& spec);

struct BarSeries {
  std::string name;
  std::string colour;
  std::vector<double> values;  // one per category
};

// Grouped bars: for each category, one bar per series side by side.
struct BarChartSpec {
  std::string id;
  std::string title;
  std::vector<std::string> categories;
  Unit y_unit = Unit::kCount;
  std::string x_title;
  std::string y_title;
  std::vector<BarSeries> series;
  int width = 1100;
  int height = 300;
};
std::string RenderBarChart(const BarChartSpec& spec);

// A map of cells in reading order (left to right, then down), each filled
// from the bottom in proportion to its value, coloured by OccupancyColour.
// A cell with value 0 is drawn as an empty (grey) cell.
struct CellMapSpec {
  std::string id;
  std::string title;
  std::vector<double> fill;  // per cell, in [0, 1]
  int columns = 100;
  double cell_px = 10;  // rendered size of one cell
  // Attributes copied onto the <svg> for the page's tooltip script, e.g.
  // `data-group="4"`; already escaped by the caller.
  std::string extra_attributes;
};
std::string RenderCellMap(const CellMapSpec& spec);

// One character per cell for CellMapSpec tooltips: 'A' + round(fill * 20).
std::string EncodeCellFill(absl::Span<const double> fill);

}  // namespace slabtrace

#endif  // SLABTRACE_TOOLS_REPORT_SVG_CHART_H_
