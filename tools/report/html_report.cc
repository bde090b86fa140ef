#include "tools/report/html_report.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/report/internal/page_assets.h"
#include "tools/report/svg_chart.h"

namespace slabtrace {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int kPageWidth = 1100;

std::string Bytes(double v) { return FormatQuantity(v, Unit::kBytes); }
std::string Count(double v) { return FormatQuantity(v, Unit::kCount); }
std::string Percent(double v) { return FormatQuantity(v, Unit::kFraction); }

std::string ClassName(uint64_t region_size) {
  return region_size < 1024 || region_size % 1024 != 0
             ? absl::StrCat(region_size, " B")
             : Bytes(static_cast<double>(region_size));
}

std::string Quoted(const std::string& label) {
  return absl::StrCat("\xE2\x80\x9C", HtmlEscape(label), "\xE2\x80\x9D");
}

// Trace time in seconds from the start of the trace.
class Clock {
 public:
  explicit Clock(const ReportInput& input) {
    base_ = input.facts.first_time_ns;
    uint64_t earliest = std::numeric_limits<uint64_t>::max();
    for (uint64_t t : input.timeline.time_ns) earliest = std::min(earliest, t);
    for (uint64_t t : input.timeline.dsr_time_ns) {
      earliest = std::min(earliest, t);
    }
    for (uint64_t t : input.timeline.policy_time_ns) {
      earliest = std::min(earliest, t);
    }
    for (const MarkerReport& m : input.markers) {
      earliest = std::min(earliest, m.time_ns);
    }
    base_ = std::min(base_, earliest);
    end_ = std::max(base_, input.facts.last_time_ns);
    for (const auto* times :
         {&input.timeline.time_ns, &input.timeline.dsr_time_ns,
          &input.timeline.policy_time_ns}) {
      for (uint64_t t : *times) end_ = std::max(end_, t);
    }
    for (const MarkerReport& m : input.markers) {
      end_ = std::max(end_, m.time_ns);
    }
  }
  // The time span every timeline of the page shares, in seconds.
  double start() const { return 0; }
  double end() const { return Seconds(end_); }

  double Seconds(uint64_t time_ns) const {
    return time_ns >= base_ ? (time_ns - base_) / 1e9
                            : -static_cast<double>(base_ - time_ns) / 1e9;
  }

 private:
  uint64_t base_ = 0;
  uint64_t end_ = 0;
};

std::vector<VerticalMarker> MarkerLines(const ReportInput& input,
                                        const Clock& clock) {
  std::vector<VerticalMarker> lines;
  for (const MarkerReport& m : input.markers) {
    lines.push_back({clock.Seconds(m.time_ns), m.label});
  }
  return lines;
}

double MeanFill(const SlabMapData& map) {
  if (map.live.empty() || map.nregs == 0) return 0;
  double live = 0;
  for (uint32_t l : map.live) live += l;
  return live / (static_cast<double>(map.live.size()) * map.nregs);
}

uint64_t Pinned(const SlabMapData& map) {
  uint64_t pinned = 0;
  for (uint32_t l : map.live) pinned += l > 0;
  return pinned;
}

const SlabMapData* FindMap(const MarkerReport& marker, int64_t size_class) {
  for (const SlabMapData& map : marker.slab_maps) {
    if (map.size_class == size_class) return &map;
  }
  return nullptr;
}

// A policy keeps its colour in every chart and table: its position in the
// list of simulated policies (or in the list of series without policies).
const char* PolicyColour(const ReportTimeline& t, const std::string& name,
                         size_t fallback) {
  for (size_t p = 0; p < t.policies.size(); ++p) {
    if (t.policies[p] == name) return SeriesColour(p);
  }
  return SeriesColour(fallback);
}

// ---------------------------------------------------------------- header

void AppendHeader(const ReportInput& input, std::string* out) {
  const ReportFacts& f = input.facts;
  const double duration = f.last_time_ns > f.first_time_ns
                              ? (f.last_time_ns - f.first_time_ns) / 1e9
                              : 0;
  std::string allocator =
      HtmlEscape(f.allocator.empty() ? "unknown" : f.allocator);
  if (!f.allocator_version.empty()) {
    absl::StrAppend(&allocator, " ", HtmlEscape(f.allocator_version));
  }
  absl::StrAppend(out, "<header><h1>slabtrace report <span class=\"file\">",
                  HtmlEscape(f.file), "</span></h1>\n<dl class=\"facts\">",
                  "<div><dt>program</dt><dd class=\"program\">",
                  HtmlEscape(f.program.empty() ? "(unknown)" : f.program),
                  "</dd></div>", "<div><dt>duration</dt><dd>",
                  FormatQuantity(duration, Unit::kSeconds),
                  "</dd></div><div><dt>events</dt><dd>",
                  Count(static_cast<double>(f.events)),
                  "</dd></div><div><dt>threads</dt><dd>", f.threads,
                  "</dd></div><div><dt>allocator</dt><dd>", allocator,
                  "</dd></div><div><dt>page size</dt><dd>",
                  Bytes(static_cast<double>(f.page_size)),
                  "</dd></div><div><dt>markers</dt><dd>", input.markers.size(),
                  "</dd></div></dl>\n");
}

const PolicyClassDsr* FindClassDsr(const PolicyAtMarker& row,
                                   int64_t size_class) {
  for (const PolicyClassDsr& c : row.classes) {
    if (c.size_class == size_class) return &c;
  }
  return nullptr;
}

bool HasClassDsr(const MarkerReport& marker, int64_t size_class) {
  for (const PolicyAtMarker& row : marker.policies) {
    if (FindClassDsr(row, size_class) != nullptr) return true;
  }
  return false;
}

uint64_t LiveBytes(const MarkerReport& marker) {
  uint64_t live = 0;
  for (const ClassAtMarker& c : marker.classes) live += c.live_bytes;
  return live;
}

// The marker the headline is about: the one after the largest fall in live
// bytes since the marker before it (the delete of "delete half the keys"),
// or the last marker when live bytes never fell. A later shutdown or end
// marker would otherwise hide the interesting window.
size_t FeaturedMarker(const ReportInput& input) {
  size_t featured = input.markers.size() - 1;
  uint64_t largest_fall = 0;
  for (size_t m = 1; m < input.markers.size(); ++m) {
    const uint64_t before = LiveBytes(input.markers[m - 1]);
    const uint64_t after = LiveBytes(input.markers[m]);
    if (before > after && before - after > largest_fall) {
      largest_fall = before - after;
      featured = m;
    }
  }
  return featured;
}

// One sentence a reader gets the point from: the state at the last marker,
// DSR per policy since the marker before, and the chosen class's fill.
void AppendHeadline(const ReportInput& input, int64_t chosen,
                    std::string* out) {
  if (input.markers.empty()) {
    absl::StrAppend(out, "</header>\n");
    return;
  }
  const size_t featured = FeaturedMarker(input);
  const MarkerReport& last = input.markers[featured];
  uint64_t pinned = 0, footprint = 0;
  for (const ClassAtMarker& c : last.classes) {
    if (c.nregs > 0) pinned += c.pinned;
    footprint += c.footprint_bytes;
  }
  const uint64_t live = LiveBytes(last);
  absl::StrAppend(out, "<p class=\"headline\" id=\"headline\">At marker <b>",
                  Quoted(last.label), "</b>");
  if (featured > 0 && LiveBytes(input.markers[featured - 1]) > live) {
    absl::StrAppend(
        out, ", after live data fell from ",
        Bytes(static_cast<double>(LiveBytes(input.markers[featured - 1]))),
        " at ", Quoted(input.markers[featured - 1].label));
  }
  absl::StrAppend(out, ": ");
  if (!last.classes.empty()) {
    absl::StrAppend(out, "<b>", Count(static_cast<double>(pinned)),
                    "</b> slabs pinned, footprint <b>",
                    Bytes(static_cast<double>(footprint)), "</b> for ",
                    Bytes(static_cast<double>(live)), " of live data. ");
  }
  if (const SlabMapData* map = FindMap(last, chosen)) {
    absl::StrAppend(out, "Class ", ClassName(map->region_size), ": ",
                    Count(static_cast<double>(Pinned(*map))),
                    " slabs pinned, on average <b>", Percent(MeanFill(*map)),
                    " full</b>. ");
  }
  if (!last.policies.empty()) {
    absl::StrAppend(out,
                    "<br>Drainable slab ratio since the previous "
                    "marker: ");
    for (size_t p = 0; p < last.policies.size(); ++p) {
      const PolicyAtMarker& row = last.policies[p];
      absl::StrAppend(out, p ? ", " : "",
                      "<span class=\"swatch\" style=\"background:",
                      PolicyColour(input.timeline, row.policy, p), "\"></span>",
                      HtmlEscape(row.policy), " <b>",
                      row.dsr_defined ? Percent(row.dsr) : "n/a", "</b>");
    }
    absl::StrAppend(out, ".");
  }
  if (const SlabMapData* map = FindMap(last, chosen);
      map != nullptr && HasClassDsr(last, chosen)) {
    absl::StrAppend(out, "<br>In class ", ClassName(map->region_size),
                    " alone: ");
    for (size_t p = 0; p < last.policies.size(); ++p) {
      const PolicyAtMarker& row = last.policies[p];
      const PolicyClassDsr* c = FindClassDsr(row, chosen);
      absl::StrAppend(out, p ? ", " : "", HtmlEscape(row.policy), " <b>",
                      c != nullptr && c->defined ? Percent(c->dsr) : "n/a",
                      "</b>");
    }
    absl::StrAppend(out, ".");
  }
  absl::StrAppend(out, "</p></header>\n");
}

// ------------------------------------------------------------- timelines

std::vector<double> Seconds(const std::vector<uint64_t>& time_ns,
                            const Clock& clock) {
  std::vector<double> x;
  x.reserve(time_ns.size());
  for (uint64_t t : time_ns) x.push_back(clock.Seconds(t));
  return x;
}

// The first n values of `v`, padded with NaN if v is shorter.
std::vector<double> Column(const std::vector<double>& v, size_t n) {
  std::vector<double> out(v.begin(), v.begin() + std::min(n, v.size()));
  out.resize(n, kNaN);
  return out;
}

// Series that coincide (several policies at DSR 0) would hide each other:
// earlier series get wider strokes, so each stays visible as a band.
void NestWidths(std::vector<LineSeries>* series) {
  const size_t n = series->size();
  for (size_t i = 0; i < n; ++i) {
    (*series)[i].width = 2 + 1.3 * static_cast<double>(n - 1 - i);
  }
}

void AppendMemoryTimeline(const ReportInput& input, const Clock& clock,
                          const HtmlReportOptions& options, std::string* out) {
  const ReportTimeline& t = input.timeline;
  const std::vector<double> x = Seconds(t.time_ns, clock);
  LineChartSpec spec;
  spec.id = "chart-memory";
  spec.title = "Footprint, live bytes and packing bound over trace time";
  spec.y_unit = Unit::kBytes;
  spec.x_title = "trace time";
  spec.y_title = "memory";
  spec.width = kPageWidth;
  spec.max_points_per_series = options.max_points_per_series;
  spec.series.push_back({"footprint (pinned slabs + extents)", SeriesColour(0),
                         x, Column(t.footprint_bytes, x.size())});
  spec.series.push_back(
      {"live bytes", SeriesColour(2), x, Column(t.live_bytes, x.size())});
  spec.series.push_back({"packing bound", SeriesColour(1), x,
                         Column(t.packing_bound_bytes, x.size()), true});
  NestWidths(&spec.series);
  spec.markers = MarkerLines(input, clock);
  if (clock.end() > clock.start()) {
    spec.x_min = clock.start();
    spec.x_max = clock.end();
  }
  absl::StrAppend(
      out,
      "<section id=\"memory\"><h2>Memory over time</h2><p class=\"caption\">"
      "The gap between <b>footprint</b> (bytes of every slab holding at "
      "least one live object) and <b>live bytes</b> is stranded memory. The "
      "dashed <b>packing bound</b> is what perfect compaction of the live "
      "objects would need; no placement policy can go below it. Dashed grey "
      "lines are the trace's markers.</p>\n",
      RenderLineChart(spec), "</section>\n");
}

void AppendDsrTimeline(const ReportInput& input, const Clock& clock,
                       const HtmlReportOptions& options, std::string* out) {
  const ReportTimeline& t = input.timeline;
  const std::vector<double> x = Seconds(t.dsr_time_ns, clock);
  LineChartSpec spec;
  spec.id = "chart-dsr";
  spec.title = "Drainable slab ratio per placement policy over trace time";
  spec.y_unit = Unit::kFraction;
  spec.y_min = 0;
  spec.y_max = 1;
  spec.x_title = "trace time";
  spec.y_title = "DSR";
  spec.width = kPageWidth;
  spec.height = 300;
  spec.max_points_per_series = options.max_points_per_series;
  for (size_t s = 0; s < t.dsr_series.size(); ++s) {
    spec.series.push_back(
        {t.dsr_series[s], PolicyColour(t, t.dsr_series[s], s), x,
         Column(s < t.dsr.size() ? t.dsr[s] : std::vector<double>{},
                x.size())});
    spec.series.back().step_before = t.dsr_is_per_window;
  }
  NestWidths(&spec.series);
  spec.markers = MarkerLines(input, clock);
  if (clock.end() > clock.start()) {
    spec.x_min = clock.start();
    spec.x_max = clock.end();
  }
  absl::StrAppend(
      out,
      "<section id=\"dsr\"><h2>Drainable slab ratio (DSR) per policy</h2>"
      "<p class=\"caption\">Of the slabs that held live data during the "
      "window ",
      HtmlEscape(t.dsr_window),
      ", the share that could be given back at its end: 0 % means every "
      "slab is still pinned. One line per placement policy replayed over the "
      "same traffic; gaps are windows in which no slab held anything. Where "
      "lines coincide, the earlier policy is drawn wider.</p>\n",
      RenderLineChart(spec), "</section>\n");
}

void AppendPolicyFootprint(const ReportInput& input, const Clock& clock,
                           const HtmlReportOptions& options, std::string* out) {
  const ReportTimeline& t = input.timeline;
  const std::vector<double> x = Seconds(t.policy_time_ns, clock);
  LineChartSpec spec;
  spec.id = "chart-policy-footprint";
  spec.title = "Footprint per placement policy over trace time";
  spec.y_unit = Unit::kBytes;
  spec.x_title = "trace time";
  spec.y_title = "footprint";
  spec.width = kPageWidth;
  spec.height = 300;
  spec.max_points_per_series = options.max_points_per_series;
  for (size_t p = 0; p < t.policies.size(); ++p) {
    spec.series.push_back({t.policies[p], SeriesColour(p), x,
                           Column(p < t.policy_footprint_bytes.size()
                                      ? t.policy_footprint_bytes[p]
                                      : std::vector<double>{},
                                  x.size())});
  }
  NestWidths(&spec.series);
  spec.markers = MarkerLines(input, clock);
  if (clock.end() > clock.start()) {
    spec.x_min = clock.start();
    spec.x_max = clock.end();
  }
  absl::StrAppend(
      out,
      "<section id=\"policy-footprint\"><h2>Footprint per policy</h2>"
      "<p class=\"caption\">Bytes of the slabs and extents each placement "
      "policy keeps pinned, on the same traffic. A policy that groups "
      "objects by when they die falls with the live bytes after a delete; "
      "one that scatters them stays flat.",
      t.policies.empty() ? " No policies were simulated (run with --policies)."
                         : "",
      "</p>\n", RenderLineChart(spec), "</section>\n");
}

// ---------------------------------------------------------- marker tables

std::string RatioCell(double dsr, bool defined) {
  if (!defined) return "<td class=\"num\">n/a</td>";
  // A bar behind the number: the ratios of a table compare at a glance.
  const std::string width =
      absl::StrFormat("%.1f%%", std::clamp(dsr, 0.0, 1.0) * 100);
  return absl::StrCat(
      "<td class=\"num dsr\" style=\"background:linear-gradient(90deg,"
      "#bfdcf0 ",
      width, ",transparent ", width, ")\">", Percent(dsr), "</td>");
}

// "1280 B" for a class index, from whatever part of the input names it.
std::string ClassNameOf(const ReportInput& input, int64_t size_class) {
  for (const MarkerReport& m : input.markers) {
    for (const ClassAtMarker& c : m.classes) {
      if (c.size_class == size_class) return ClassName(c.region_size);
    }
    for (const SlabMapData& map : m.slab_maps) {
      if (map.size_class == size_class) return ClassName(map.region_size);
    }
  }
  return absl::StrCat("class ", size_class);
}

void AppendPolicyTables(const ReportInput& input, const Clock& clock,
                        int64_t chosen, std::string* out) {
  absl::StrAppend(
      out,
      "<section id=\"markers\"><h2>Policies at each marker</h2>"
      "<p class=\"caption\">DSR over the window since the previous "
      "marker, over all classes and in the slab map's class; footprint "
      "ratio against the recorded placement.</p>\n");
  for (size_t m = 0; m < input.markers.size(); ++m) {
    const MarkerReport& marker = input.markers[m];
    absl::StrAppend(
        out, "<h3>", Quoted(marker.label), " <span class=\"when\">at ",
        FormatQuantity(clock.Seconds(marker.time_ns), Unit::kSeconds),
        ", event ", Count(static_cast<double>(marker.event_index)),
        "</span></h3>\n");
    if (marker.policies.empty()) {
      absl::StrAppend(out,
                      "<p class=\"none\">No policy results at this "
                      "marker.</p>\n");
      continue;
    }
    const bool class_column = HasClassDsr(marker, chosen);
    absl::StrAppend(
        out, "<table class=\"policies\" id=\"policies-", m,
        "\"><thead><tr><th>policy</th><th>DSR</th>",
        class_column
            ? absl::StrCat("<th>DSR in ", ClassNameOf(input, chosen), "</th>")
            : "",
        "<th>held slabs</th>"
        "<th>pinned slabs</th><th>footprint</th><th>peak footprint</th>"
        "<th>stranded</th><th>vs recorded</th></tr></thead><tbody>\n");
    for (size_t p = 0; p < marker.policies.size(); ++p) {
      const PolicyAtMarker& row = marker.policies[p];
      std::string class_cell;
      if (class_column) {
        const PolicyClassDsr* c = FindClassDsr(row, chosen);
        class_cell =
            c != nullptr ? RatioCell(c->dsr, c->defined) : RatioCell(0, false);
      }
      absl::StrAppend(out, "<tr><td><span class=\"swatch\" style=\"background:",
                      PolicyColour(input.timeline, row.policy, p), "\"></span>",
                      HtmlEscape(row.policy), "</td>",
                      RatioCell(row.dsr, row.dsr_defined), class_cell,
                      "<td class=\"num\">",
                      Count(static_cast<double>(row.held_granules)),
                      "</td><td class=\"num\">",
                      Count(static_cast<double>(row.pinned_slabs)),
                      "</td><td class=\"num\">",
                      Bytes(static_cast<double>(row.footprint_bytes)),
                      "</td><td class=\"num\">",
                      Bytes(static_cast<double>(row.peak_footprint_bytes)),
                      "</td><td class=\"num\">",
                      Bytes(static_cast<double>(row.stranded_bytes)),
                      "</td><td class=\"num\">",
                      row.footprint_ratio > 0
                          ? absl::StrFormat("%.3f\xC3\x97", row.footprint_ratio)
                          : "n/a",
                      "</td></tr>\n");
    }
    absl::StrAppend(out, "</tbody></table>\n");
  }
  absl::StrAppend(out, "</section>\n");
}

// -------------------------------------------------------------- histogram

void AppendHistogram(const ReportInput& input, std::string* out) {
  BarChartSpec spec;
  spec.id = "chart-histogram";
  spec.title = "Pinned slabs by occupancy at each marker";
  spec.y_unit = Unit::kCount;
  spec.x_title = "occupancy of the slab (live regions / regions per slab)";
  spec.y_title = "pinned slabs";
  spec.width = kPageWidth;
  for (int b = 0; b < kReportHistogramBuckets; ++b) {
    spec.categories.push_back(
        absl::StrFormat("%d\xE2\x80\x93%d %%", b * 10, b * 10 + 10));
  }
  for (size_t m = 0; m < input.markers.size(); ++m) {
    BarSeries series{input.markers[m].label, SeriesColour(m), {}};
    for (uint64_t v : input.markers[m].histogram) {
      series.values.push_back(static_cast<double>(v));
    }
    spec.series.push_back(std::move(series));
  }
  absl::StrAppend(
      out,
      "<section id=\"histogram\"><h2>Occupancy of pinned slabs</h2>"
      "<p class=\"caption\">Pinned slabs of all small size classes, by how "
      "full they are, one colour per marker. A slab in the 50\xE2\x80\x93"
      "60 % bucket holds half its regions: it cannot be given back, yet half "
      "of it is empty.</p>\n",
      RenderBarChart(spec), "</section>\n");
}

// --------------------------------------------------------------- slab maps

struct MapLayout {
  size_t group = 1;  // slabs per cell
  int columns = 1;
  double cell_px = 12;
};

MapLayout LayOut(size_t slabs, size_t budget) {
  MapLayout layout;
  budget = std::max<size_t>(1, budget);
  layout.group = std::max<size_t>(1, (slabs + budget - 1) / budget);
  const size_t cells = (slabs + layout.group - 1) / layout.group;
  layout.columns = cells <= 1600 ? 80 : cells <= 5000 ? 125 : 200;
  layout.cell_px = static_cast<double>(kPageWidth) / layout.columns;
  if (cells < static_cast<size_t>(layout.columns)) {
    layout.columns = static_cast<int>(std::max<size_t>(1, cells));
  }
  return layout;
}

std::vector<double> CellFills(const SlabMapData& map, size_t group) {
  std::vector<double> fills;
  fills.reserve((map.live.size() + group - 1) / group);
  for (size_t i = 0; i < map.live.size(); i += group) {
    const size_t end = std::min(map.live.size(), i + group);
    double live = 0;
    for (size_t j = i; j < end; ++j) live += map.live[j];
    const double capacity =
        static_cast<double>(end - i) * std::max<uint32_t>(1, map.nregs);
    fills.push_back(live / capacity);
  }
  return fills;
}

std::string SlabMapLegend() {
  std::string out = "<div class=\"maplegend\">occupancy: ";
  for (int b = 0; b < kOccupancyBuckets; ++b) {
    absl::StrAppend(
        &out, "<span class=\"swatch\" style=\"background:", OccupancyColour(b),
        "\"></span>", b * 10, "\xE2\x80\x93", b * 10 + 10, "% ");
  }
  absl::StrAppend(&out,
                  "<span class=\"swatch empty\"></span>empty "
                  "(drainable)</div>\n");
  return out;
}

void AppendSlabMaps(const ReportInput& input, const Clock& clock,
                    const HtmlReportOptions& options, int64_t chosen,
                    std::string* out) {
  std::map<uint32_t, uint64_t> class_sizes;  // class -> region size
  size_t maps = 0;
  for (const MarkerReport& m : input.markers) {
    for (const SlabMapData& map : m.slab_maps) {
      class_sizes[map.size_class] = map.region_size;
      ++maps;
    }
  }
  absl::StrAppend(
      out,
      "<section id=\"slabmaps\"><h2>Slab map</h2><p class=\"caption\">Every "
      "slab of one size class as a cell, ordered by address (left to right, "
      "then down). A cell is filled from the bottom and coloured by the share "
      "of its regions that hold live objects: a page of half-height cells "
      "means every slab is half full, so none can be given back.</p>\n");
  if (maps == 0) {
    absl::StrAppend(out,
                    "<p class=\"none\">No slab maps in this report.</p>"
                    "</section>\n");
    return;
  }
  const size_t budget = std::max<size_t>(
      256, std::min(options.slab_map_cell_budget,
                    options.total_slab_map_cell_budget / maps));
  absl::StrAppend(out,
                  "<label class=\"picker\">size class <select "
                  "id=\"class-select\">");
  for (const auto& [size_class, region_size] : class_sizes) {
    absl::StrAppend(out, "<option value=\"", size_class, "\"",
                    size_class == chosen ? " selected" : "", ">",
                    ClassName(region_size), " (class ", size_class,
                    ")</option>");
  }
  absl::StrAppend(out, "</select></label>\n", SlabMapLegend());
  for (size_t m = 0; m < input.markers.size(); ++m) {
    const MarkerReport& marker = input.markers[m];
    absl::StrAppend(
        out, "<h3>", Quoted(marker.label), " <span class=\"when\">at ",
        FormatQuantity(clock.Seconds(marker.time_ns), Unit::kSeconds),
        "</span></h3>\n");
    for (const auto& [size_class, region_size] : class_sizes) {
      absl::StrAppend(out, "<figure class=\"slabmap\" data-map-class=\"",
                      size_class, "\"", size_class == chosen ? "" : " hidden",
                      ">");
      const SlabMapData* map = FindMap(marker, size_class);
      if (map == nullptr || map->live.empty()) {
        absl::StrAppend(out, "<figcaption>No slabs of class ",
                        ClassName(region_size),
                        " at this marker.</figcaption></figure>\n");
        continue;
      }
      const MapLayout layout = LayOut(map->live.size(), budget);
      CellMapSpec spec;
      spec.id = absl::StrCat("slabmap-", m, "-", size_class);
      spec.title = absl::StrCat("Slab map of class ", ClassName(region_size),
                                " at marker ", marker.label);
      spec.fill = CellFills(*map, layout.group);
      spec.columns = layout.columns;
      spec.cell_px = layout.cell_px;
      spec.extra_attributes = absl::StrFormat(
          " data-group=\"%d\" data-slabs=\"%d\" data-nregs=\"%d\"",
          layout.group, map->live.size(), map->nregs);
      const uint64_t pinned = Pinned(*map);
      std::string grouping =
          layout.group == 1
              ? "one cell per slab"
              : absl::StrCat("each cell groups ", layout.group,
                             " adjacent slabs and shows their mean occupancy "
                             "(the map is limited to ",
                             Count(static_cast<double>(budget)), " cells)");
      absl::StrAppend(
          out, "<figcaption>Class <b>", ClassName(region_size), "</b> (",
          map->nregs, " regions per slab): <b>",
          Count(static_cast<double>(map->live.size())), "</b> slabs, ",
          Count(static_cast<double>(pinned)), " pinned, ",
          Count(static_cast<double>(map->live.size() - pinned)),
          " empty; mean occupancy <b>", Percent(MeanFill(*map)), "</b>; ",
          grouping, ".</figcaption>\n", RenderCellMap(spec), "</figure>\n");
    }
  }
  absl::StrAppend(out, "</section>\n");
}

// ------------------------------------------------------------ class tables

void AppendClassTables(const ReportInput& input, int64_t chosen,
                       std::string* out) {
  // The table of the marker the headline is about starts open.
  const size_t featured = input.markers.empty() ? 0 : FeaturedMarker(input);
  absl::StrAppend(
      out,
      "<section id=\"classes\"><h2>Size classes at each marker</h2>"
      "<p class=\"caption\">The recorded placement, per size class. "
      "Pinned counts slabs (extents for large classes); DSR is "
      "over the window since the previous marker.</p>\n");
  for (size_t m = 0; m < input.markers.size(); ++m) {
    const MarkerReport& marker = input.markers[m];
    absl::StrAppend(out, "<details", m == featured ? " open" : "", "><summary>",
                    Quoted(marker.label), " (", marker.classes.size(),
                    " classes)</summary>\n");
    absl::StrAppend(
        out, "<table class=\"classes\" id=\"classes-", m,
        "\"><thead><tr><th>class</th><th>regions/slab</th><th>slab</th>"
        "<th>live objects</th><th>live bytes</th><th>pinned</th>"
        "<th>footprint</th><th>stranded</th><th>mean fill</th><th>DSR</th>"
        "</tr></thead><tbody>\n");
    for (const ClassAtMarker& c : marker.classes) {
      const double fill = c.nregs > 0 && c.pinned > 0
                              ? static_cast<double>(c.live_objects) /
                                    (static_cast<double>(c.pinned) * c.nregs)
                              : kNaN;
      absl::StrAppend(
          out, "<tr", c.size_class == chosen ? " class=\"chosen\"" : "",
          "><td>", ClassName(c.region_size), "</td><td class=\"num\">",
          c.nregs > 0 ? absl::StrCat(c.nregs) : "large",
          "</td><td class=\"num\">",
          Bytes(static_cast<double>(c.granule_bytes)),
          "</td><td class=\"num\">", Count(static_cast<double>(c.live_objects)),
          "</td><td class=\"num\">", Bytes(static_cast<double>(c.live_bytes)),
          "</td><td class=\"num\">", Count(static_cast<double>(c.pinned)),
          "</td><td class=\"num\">",
          Bytes(static_cast<double>(c.footprint_bytes)),
          "</td><td class=\"num\">",
          Bytes(static_cast<double>(c.stranded_bytes)),
          "</td><td class=\"num\">",
          std::isnan(fill) ? "\xE2\x80\x93" : Percent(fill), "</td>",
          RatioCell(c.dsr, c.dsr_defined), "</tr>\n");
    }
    absl::StrAppend(out, "</tbody></table></details>\n");
  }
  absl::StrAppend(out, "</section>\n");
}

}  // namespace

int64_t DefaultSlabMapClass(const ReportInput& input) {
  for (auto m = input.markers.rbegin(); m != input.markers.rend(); ++m) {
    if (m->slab_maps.empty()) continue;
    const SlabMapData* best = nullptr;
    uint64_t best_pinned = 0;
    for (const SlabMapData& map : m->slab_maps) {
      const uint64_t pinned = Pinned(map);
      // Ties go to the smaller class, so the choice never depends on order.
      if (best == nullptr || pinned > best_pinned ||
          (pinned == best_pinned && map.size_class < best->size_class)) {
        best = &map;
        best_pinned = pinned;
      }
    }
    return best->size_class;
  }
  return -1;
}

std::string RenderHtmlReport(const ReportInput& input,
                             const HtmlReportOptions& options) {
  const Clock clock(input);
  int64_t chosen = input.chosen_class;
  if (chosen < 0) chosen = DefaultSlabMapClass(input);

  std::string out;
  absl::StrAppend(&out,
                  "<!DOCTYPE html>\n<html lang=\"en\"><head><meta "
                  "charset=\"utf-8\"><meta name=\"viewport\" "
                  "content=\"width=device-width\"><title>slabtrace report: ",
                  HtmlEscape(input.facts.file), "</title>\n<script>",
                  kErrorCaptureScript, "</script>\n<style>", kPageStyle,
                  "</style></head>\n<body>\n<main>\n");
  AppendHeader(input, &out);
  AppendHeadline(input, chosen, &out);
  AppendMemoryTimeline(input, clock, options, &out);
  AppendDsrTimeline(input, clock, options, &out);
  AppendPolicyFootprint(input, clock, options, &out);
  AppendPolicyTables(input, clock, chosen, &out);
  AppendHistogram(input, &out);
  AppendSlabMaps(input, clock, options, chosen, &out);
  AppendClassTables(input, chosen, &out);
  absl::StrAppend(
      &out,
      "<footer>Written by slabtrace. Definitions of every metric: "
      "DESIGN.md, \xE2\x80\x9CWhat the words mean\xE2\x80\x9D."
      "</footer>\n</main>\n<div id=\"tooltip\" role=\"tooltip\"></div>\n"
      "<script>",
      kPageScript, "</script>\n</body></html>\n");
  return out;
}

}  // namespace slabtrace
