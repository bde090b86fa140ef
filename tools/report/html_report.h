// RenderHtmlReport turns what the replay and the simulator measured into one
// self-contained HTML page: a header with the trace's facts, a headline
// sentence, timelines of memory and of DSR per policy with the markers as
// labelled lines, a table per marker with one row per policy, the occupancy
// histogram of pinned slabs at each marker, a slab map per marker (every
// slab of a size class as a cell coloured and filled by occupancy, ordered
// by address) and a per-size-class table per marker.
//
// Promises:
//  - The page needs nothing but itself: styles and the small script (hover
//    tooltips, the size-class selector of the slab maps, error capture for
//    the browser test) are inline; no network, no external file.
//  - Pure and deterministic: same input and options, same bytes.
//  - Bounded: timelines are downsampled to options.max_points_per_series
//    per series; slab maps group adjacent slabs beyond the cell budgets and
//    say so in their captions. A report stays within a few MiB whatever the
//    trace length.
//  - Every text from the trace (labels, command line, names) is escaped.
//
// Metric definitions are DESIGN.md's; this file only draws them.

#ifndef SLABTRACE_TOOLS_REPORT_HTML_REPORT_H_
#define SLABTRACE_TOOLS_REPORT_HTML_REPORT_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace slabtrace {

inline constexpr int kReportHistogramBuckets = 10;  // live/nregs in tenths

struct ReportFacts {
  std::string file;     // base name of the trace
  std::string program;  // the recorded command line
  uint64_t first_time_ns = 0;
  uint64_t last_time_ns = 0;
  uint64_t events = 0;
  uint32_t threads = 0;
  std::string allocator;
  std::string allocator_version;
  uint64_t page_size = 0;
};

// The timelines, one entry per sweep in time order.
struct ReportTimeline {
  std::vector<uint64_t> time_ns;
  std::vector<double> footprint_bytes;
  std::vector<double> live_bytes;
  std::vector<double> packing_bound_bytes;
  // The placement policies simulated, in the order shown everywhere.
  std::vector<std::string> policies;
  // Footprint of each policy over time (the simulator's own sweeps):
  // policy_footprint_bytes[p][i] at policy_time_ns[i]. Empty: no policies
  // were simulated.
  std::vector<uint64_t> policy_time_ns;
  std::vector<std::vector<double>> policy_footprint_bytes;
  // DSR per series: dsr[s][i] at dsr_time_ns[i], named dsr_series[s]
  // (the policies, or "recorded" from the replay alone); NaN = undefined
  // (nothing held in the window).
  std::vector<std::string> dsr_series;
  std::vector<uint64_t> dsr_time_ns;
  std::vector<std::vector<double>> dsr;
  // The window each DSR point covers, for the chart's caption, e.g.
  // "since the previous marker".
  std::string dsr_window = "since the previous marker";
  // Each DSR point stands for the whole window ending at it (points at
  // markers only): drawn as a step over the window, not as a line.
  bool dsr_is_per_window = false;
};

// One policy's DSR in one size class at one marker.
struct PolicyClassDsr {
  uint32_t size_class = 0;
  bool defined = false;  // the class held a granule in the window
  double dsr = 0;
};

// One policy at one marker.
struct PolicyAtMarker {
  std::string policy;
  bool dsr_defined = false;
  double dsr = 0;
  uint64_t held_granules = 0;
  uint64_t pinned_slabs = 0;
  uint64_t footprint_bytes = 0;
  uint64_t peak_footprint_bytes = 0;
  int64_t stranded_bytes = 0;
  double footprint_ratio = 0;  // footprint / the recorded footprint; 0 = n/a
  // DSR per size class over the same window (the page shows the chosen
  // class's); empty when the simulator did not report classes.
  std::vector<PolicyClassDsr> classes;
};

// One size class at one marker (the recorded placement).
struct ClassAtMarker {
  uint32_t size_class = 0;
  uint64_t region_size = 0;
  uint32_t nregs = 0;  // 0 for large classes
  uint64_t granule_bytes = 0;
  uint64_t live_objects = 0;
  uint64_t live_bytes = 0;
  uint64_t pinned = 0;  // pinned slabs, or live extents for large classes
  uint64_t footprint_bytes = 0;
  int64_t stranded_bytes = 0;
  bool dsr_defined = false;
  double dsr = 0;  // since the previous marker
};

// Every slab of one small size class, ordered by address.
struct SlabMapData {
  uint32_t size_class = 0;
  uint64_t region_size = 0;
  uint32_t nregs = 0;
  std::vector<uint32_t> live;  // live objects per slab; 0 = drainable
};

struct MarkerReport {
  std::string label;
  uint64_t time_ns = 0;
  uint64_t event_index = 0;
  std::vector<PolicyAtMarker> policies;
  std::vector<ClassAtMarker> classes;
  // Pinned small slabs of all classes by live/nregs in tenths (the replay's
  // histogram: [i/10, (i+1)/10), full slabs in the last bucket).
  std::array<uint64_t, kReportHistogramBuckets> histogram = {};
  // Slab maps of a few classes; the page offers them in a selector.
  std::vector<SlabMapData> slab_maps;
};

struct ReportInput {
  ReportFacts facts;
  ReportTimeline timeline;
  std::vector<MarkerReport> markers;  // in time order
  // Size class whose slab map is shown first; -1 = the class with the most
  // pinned slabs at the last marker that has slab maps.
  int64_t chosen_class = -1;
};

struct HtmlReportOptions {
  size_t max_points_per_series = 2000;
  // Cells of one slab map, and of all slab maps of the page together;
  // beyond these, adjacent slabs are grouped into one cell.
  size_t slab_map_cell_budget = 20000;
  size_t total_slab_map_cell_budget = 120000;
};

// The class the page shows first (see ReportInput::chosen_class), or -1
// when there are no slab maps.
int64_t DefaultSlabMapClass(const ReportInput& input);

std::string RenderHtmlReport(const ReportInput& input,
                             const HtmlReportOptions& options = {});

}  // namespace slabtrace

#endif  // SLABTRACE_TOOLS_REPORT_HTML_REPORT_H_
