// BuildReportInput measures, from one trace file, everything the HTML
// report draws, with the project's own engines so that the page and the
// command-line tools always agree:
//  - replay/ (Replayer): sweeps at every marker, at the end and every N
//    events, N chosen so the timeline has about `timeline_points` points:
//    footprint, live bytes, packing bound, per-class tables and occupancy
//    histograms at markers;
//  - replay/ (SlabOccupancy): per-slab occupancy of the busiest size
//    classes at each marker, for the slab maps;
//  - sim/ (Compare): each placement policy at every marker (DSR since the
//    previous marker) and on the same timeline (DSR since the previous
//    sweep).
// The end of the trace is reported as a last marker named "end", so a
// trace without markers still gets tables and a slab map.
//
// Deterministic: same file and options, same ReportInput. Errors are the
// reader's (one line: file, offset, reason) or a bad option.

#ifndef SLABTRACE_TOOLS_REPORT_TRACE_REPORT_H_
#define SLABTRACE_TOOLS_REPORT_TRACE_REPORT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/report/html_report.h"

namespace slabtrace {

struct TraceReportOptions {
  // Policies to simulate, in the order shown. Empty and not
  // simulate_all_policies: none; the DSR chart then shows the recorded
  // placement's DSR since the previous marker, from the replay.
  std::vector<std::string> policies;
  bool simulate_all_policies = false;  // every registered policy
  // Region size in bytes of the class whose slab map is shown first;
  // 0 = the class with the most pinned slabs at the last marker.
  uint64_t class_size = 0;
  size_t timeline_points = 2000;
  // Points of the footprint-per-policy chart: fewer, because every
  // simulator sweep costs all policies a pass over their slabs.
  size_t policy_timeline_points = 500;
  // Slab maps are kept for this many classes (the busiest at the end),
  // plus the chosen one.
  size_t slab_map_classes = 6;
  int threads = 0;  // simulator threads; 0 = one per policy
};

absl::StatusOr<ReportInput> BuildReportInput(const std::string& path,
                                             const TraceReportOptions& options);

}  // namespace slabtrace

#endif  // SLABTRACE_TOOLS_REPORT_TRACE_REPORT_H_
