#include "tools/report/trace_report.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "proto/report.pb.h"
#include "proto/sim.pb.h"
#include "proto/trace_reader.h"
#include "replay/object_stream.h"
#include "replay/replayer.h"
#include "replay/slab_occupancy.h"
#include "sim/compare.h"

namespace slabtrace {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Per-slab occupancy at one marker (or the end): live objects of every
// pinned slab, by class, each ordered by address.
struct SlabSnapshot {
  std::map<uint32_t, std::vector<uint32_t>> live_by_class;
};

struct SlabPass {
  uint64_t events = 0;
  uint32_t threads = 0;  // the trailer's, else highest thread number + 1
  std::vector<SlabSnapshot> snapshots;  // one per marker, then the end
};

SlabSnapshot Snapshot(const SlabOccupancy& occupancy) {
  SlabSnapshot snapshot;
  for (const SlabOccupancy::GranuleFill& g : occupancy.PinnedGranules()) {
    if (!occupancy.geometry().is_small(g.size_class)) continue;
    snapshot.live_by_class[g.size_class].push_back(g.live);
  }
  return snapshot;
}

// Replays the trace once more for the slab maps, with the same occupancy
// engine (and the same window resets at markers) as the Replayer.
absl::StatusOr<SlabPass> ReadSlabSnapshots(const std::string& path) {
  absl::StatusOr<std::unique_ptr<TraceReader>> reader = TraceReader::Open(path);
  if (!reader.ok()) return reader.status();
  SlabOccupancy occupancy((*reader)->geometry());
  SlabPass pass;
  uint32_t max_thread = 0;
  bool any_event = false;
  TraceRecord record;
  while (true) {
    absl::StatusOr<bool> more = (*reader)->Next(&record);
    if (!more.ok()) return more.status();
    if (!*more) break;
    if (record.type == TraceRecord::Type::kMarker) {
      pass.snapshots.push_back(Snapshot(occupancy));
      occupancy.Sweep(WindowReset::kSweepAndMarker);
      continue;
    }
    occupancy.ApplyAll(record.events, pass.events);
    pass.events += record.events.size();
    for (const Event& e : record.events)
      max_thread = std::max(max_thread, e.thread);
    any_event = any_event || !record.events.empty();
  }
  pass.snapshots.push_back(Snapshot(occupancy));
  pass.threads = any_event ? max_thread + 1 : 0;
  const std::optional<TraceTrailer>& trailer = (*reader)->trailer();
  if (trailer.has_value() && trailer->threads() > 0) {
    pass.threads = trailer->threads();
  }
  return pass;
}

absl::StatusOr<Report> ReplayForReport(const std::string& path,
                                       uint64_t every_events) {
  absl::StatusOr<std::unique_ptr<TraceReader>> reader = TraceReader::Open(path);
  if (!reader.ok()) return reader.status();
  ReplayOptions options;
  options.set_every_events(every_events);
  options.set_by_class(true);
  options.set_histogram(true);
  Replayer replayer(**reader, options);
  return replayer.Run();
}

absl::StatusOr<int64_t> ChosenClass(const SlabGeometry& geometry,
                                    uint64_t class_size) {
  if (class_size == 0) return -1;
  std::vector<std::string> sizes;
  for (int c = 0; c < geometry.nbins(); ++c) {
    if (geometry.region_size(c) == class_size) return c;
    sizes.push_back(absl::StrCat(geometry.region_size(c)));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--class ", class_size,
                   ": no small size class of that many bytes (classes: ",
                   absl::StrJoin(sizes, ","), ")"));
}

// The classes that get slab maps: the busiest at the end, and the chosen.
std::vector<uint32_t> MapClasses(const SlabPass& pass, int64_t chosen,
                                 size_t how_many) {
  std::vector<std::pair<uint64_t, uint32_t>> by_slabs;  // (-slabs, class)
  for (const auto& [size_class, live] : pass.snapshots.back().live_by_class) {
    by_slabs.emplace_back(live.size(), size_class);
  }
  std::sort(by_slabs.begin(), by_slabs.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  std::vector<uint32_t> classes;
  for (size_t i = 0; i < by_slabs.size() && i < how_many; ++i) {
    classes.push_back(by_slabs[i].second);
  }
  if (chosen >= 0 &&
      std::find(classes.begin(), classes.end(), chosen) == classes.end()) {
    classes.push_back(static_cast<uint32_t>(chosen));
  }
  std::sort(classes.begin(), classes.end());
  return classes;
}

void FillFacts(const TraceHeader& header, const Report& report,
               uint32_t threads, ReportFacts* facts) {
  facts->file = report.trace().file();
  facts->program = absl::StrJoin(header.command_line(), " ");
  facts->first_time_ns = report.trace().first_time_ns();
  facts->last_time_ns = report.trace().last_time_ns();
  facts->events = report.trace().events();
  facts->threads = threads;
  facts->allocator = report.trace().allocator();
  facts->allocator_version = report.trace().allocator_version();
  facts->page_size = report.trace().page_size();
}

double Ratio(const DsrWindow& window) {
  return window.defined() ? window.dsr() : kNaN;
}

void FillMemoryTimeline(const Report& report, ReportTimeline* timeline) {
  for (const Sweep& sweep : report.sweeps()) {
    timeline->time_ns.push_back(sweep.time_ns());
    timeline->footprint_bytes.push_back(
        static_cast<double>(sweep.total().footprint_bytes()));
    timeline->live_bytes.push_back(
        static_cast<double>(sweep.total().live_bytes()));
    timeline->packing_bound_bytes.push_back(
        static_cast<double>(sweep.total().packing_bound_bytes()));
  }
}

// The end sweep repeats the last marker when no event followed it.
bool RedundantEnd(const Report& report) {
  const int n = report.sweeps_size();
  if (n < 2 || report.sweeps(n - 1).kind() != Sweep::END) return false;
  for (int i = n - 2; i >= 0; --i) {
    if (report.sweeps(i).kind() == Sweep::MARKER) {
      return report.sweeps(i).event_index() ==
             report.sweeps(n - 1).event_index();
    }
  }
  return false;
}

// Without policies: the recorded placement's DSR since the previous marker
// at every replay sweep.
void FillRecordedDsr(const Report& report, ReportTimeline* timeline) {
  timeline->dsr_series = {"recorded"};
  timeline->dsr.assign(1, {});
  timeline->dsr_window = "since the previous marker";
  for (const Sweep& sweep : report.sweeps()) {
    timeline->dsr_time_ns.push_back(sweep.time_ns());
    timeline->dsr[0].push_back(Ratio(sweep.total().dsr_since_marker()));
  }
}

// The marker (and end) sweeps of a comparison, without a redundant end.
std::vector<const ComparisonSweep*> MarkerSweeps(const Comparison& comparison,
                                                 bool drop_end) {
  std::vector<const ComparisonSweep*> sweeps;
  for (const ComparisonSweep& s : comparison.sweeps()) {
    if (s.kind() == ComparisonSweep::INTERVAL) continue;
    if (s.kind() == ComparisonSweep::END && drop_end) continue;
    sweeps.push_back(&s);
  }
  return sweeps;
}

// With policies: DSR since the previous marker at each marker (from the
// markers-only run), footprint at every sweep of the timeline run.
void FillPolicyTimelines(const std::vector<const ComparisonSweep*>& at_markers,
                         const Comparison& timeline_run,
                         ReportTimeline* timeline) {
  timeline->policies.assign(timeline_run.policies().begin(),
                            timeline_run.policies().end());
  const size_t n = timeline->policies.size();
  timeline->dsr_series = timeline->policies;
  timeline->dsr.assign(n, {});
  timeline->dsr_window = "between two markers";
  timeline->dsr_is_per_window = true;
  for (const ComparisonSweep* sweep : at_markers) {
    timeline->dsr_time_ns.push_back(sweep->time_ns());
    for (size_t p = 0; p < n; ++p) {
      const bool defined = p < static_cast<size_t>(sweep->rows_size()) &&
                           sweep->rows(p).held_granules() > 0;
      timeline->dsr[p].push_back(defined ? sweep->rows(p).dsr() : kNaN);
    }
  }
  timeline->policy_footprint_bytes.assign(n, {});
  for (const ComparisonSweep& sweep : timeline_run.sweeps()) {
    timeline->policy_time_ns.push_back(sweep.time_ns());
    for (size_t p = 0; p < n; ++p) {
      timeline->policy_footprint_bytes[p].push_back(
          p < static_cast<size_t>(sweep.rows_size())
              ? static_cast<double>(sweep.rows(p).footprint_bytes())
              : kNaN);
    }
  }
}

std::vector<PolicyAtMarker> PolicyRows(const ComparisonSweep& sweep) {
  std::vector<PolicyAtMarker> rows;
  for (const PolicyRow& row : sweep.rows()) {
    PolicyAtMarker out;
    out.policy = row.policy();
    out.dsr_defined = row.held_granules() > 0;
    out.dsr = row.dsr();
    out.held_granules = row.held_granules();
    out.pinned_slabs = row.pinned_slabs();
    out.footprint_bytes = row.footprint_bytes();
    out.peak_footprint_bytes = row.peak_footprint_bytes();
    out.stranded_bytes = static_cast<int64_t>(row.stranded_bytes());
    out.footprint_ratio = row.footprint_ratio();
    for (const ClassRow& c : row.classes()) {
      out.classes.push_back({c.size_class(), c.held_granules() > 0, c.dsr()});
    }
    rows.push_back(std::move(out));
  }
  return rows;
}

std::vector<ClassAtMarker> ClassRows(const Sweep& sweep) {
  std::vector<ClassAtMarker> rows;
  for (const ClassOccupancy& c : sweep.classes()) {
    const Occupancy& o = c.occupancy();
    if (o.live_objects() == 0 && o.pinned_slabs() == 0 &&
        o.pinned_extents() == 0 && o.dsr_since_marker().held() == 0) {
      continue;
    }
    ClassAtMarker row;
    row.size_class = c.size_class();
    row.region_size = c.class_size();
    row.nregs = c.nregs();
    row.granule_bytes = c.granule_bytes();
    row.live_objects = o.live_objects();
    row.live_bytes = o.live_bytes();
    row.pinned = o.pinned_slabs() + o.pinned_extents();
    row.footprint_bytes = o.footprint_bytes();
    row.stranded_bytes = o.stranded_bytes();
    row.dsr_defined = o.dsr_since_marker().defined();
    row.dsr = o.dsr_since_marker().dsr();
    rows.push_back(std::move(row));
  }
  return rows;
}

// One MarkerReport per replay marker sweep and the end; `at_markers` is the
// simulator's markers-only run (its sweeps are the same markers, then the
// end), or null.
void FillMarkers(const Report& report, const SlabPass& pass,
                 const SlabGeometry& geometry,
                 const std::vector<uint32_t>& map_classes,
                 const std::vector<const ComparisonSweep*>& policy_sweeps,
                 ReportInput* input) {
  const bool drop_end = RedundantEnd(report);
  size_t k = 0;  // index among marker and end sweeps
  for (const Sweep& sweep : report.sweeps()) {
    if (sweep.kind() == Sweep::INTERVAL) continue;
    if (sweep.kind() == Sweep::END && drop_end) continue;
    MarkerReport marker;
    marker.label = sweep.kind() == Sweep::END ? "end" : sweep.label();
    marker.time_ns = sweep.time_ns();
    marker.event_index = sweep.event_index();
    marker.classes = ClassRows(sweep);
    for (int b = 0;
         b < sweep.total().histogram_size() && b < kReportHistogramBuckets;
         ++b) {
      marker.histogram[b] = sweep.total().histogram(b);
    }
    if (k < policy_sweeps.size())
      marker.policies = PolicyRows(*policy_sweeps[k]);
    if (k < pass.snapshots.size()) {
      for (uint32_t size_class : map_classes) {
        auto it = pass.snapshots[k].live_by_class.find(size_class);
        SlabMapData map;
        map.size_class = size_class;
        map.region_size = geometry.region_size(size_class);
        map.nregs = geometry.nregs(size_class);
        if (it != pass.snapshots[k].live_by_class.end()) map.live = it->second;
        marker.slab_maps.push_back(std::move(map));
      }
    }
    input->markers.push_back(std::move(marker));
    ++k;
  }
}

}  // namespace

absl::StatusOr<ReportInput> BuildReportInput(
    const std::string& path, const TraceReportOptions& options) {
  absl::StatusOr<std::unique_ptr<TraceReader>> header_reader =
      TraceReader::Open(path);
  if (!header_reader.ok()) return header_reader.status();
  const TraceHeader header = (*header_reader)->header();
  const SlabGeometry geometry = (*header_reader)->geometry();
  header_reader->reset();

  absl::StatusOr<int64_t> chosen = ChosenClass(geometry, options.class_size);
  if (!chosen.ok()) return chosen.status();
  const bool simulate =
      options.simulate_all_policies || !options.policies.empty();
  if (!options.policies.empty()) {
    if (absl::Status s = ValidatePolicies(options.policies); !s.ok()) return s;
  }

  absl::StatusOr<SlabPass> pass = ReadSlabSnapshots(path);
  if (!pass.ok()) return pass.status();
  const uint64_t every =
      std::max<uint64_t>(1, (pass->events + options.timeline_points - 1) /
                                std::max<size_t>(1, options.timeline_points));
  absl::StatusOr<Report> report = ReplayForReport(path, every);
  if (!report.ok()) return report.status();

  ReportInput input;
  input.chosen_class = *chosen;
  FillFacts(header, *report, pass->threads, &input.facts);
  FillMemoryTimeline(*report, &input.timeline);

  std::vector<const ComparisonSweep*> policy_sweeps;
  Comparison at_markers;
  if (simulate) {
    const StreamFactory open_stream = [path]() {
      return OpenObjectStream(path);
    };
    CompareOptions compare;
    compare.policies = options.policies;  // empty: all, in registry order
    compare.threads = options.threads;
    compare.trace_name = input.facts.file;
    compare.sim.by_class = true;  // the chosen class's DSR per policy
    absl::StatusOr<Comparison> markers_run = Compare(open_stream, compare);
    compare.sim.by_class = false;
    if (!markers_run.ok()) return markers_run.status();
    at_markers = *std::move(markers_run);
    compare.sim.every_events = std::max<uint64_t>(
        1, (pass->events + options.policy_timeline_points - 1) /
               std::max<size_t>(1, options.policy_timeline_points));
    absl::StatusOr<Comparison> timeline_run = Compare(open_stream, compare);
    if (!timeline_run.ok()) return timeline_run.status();
    policy_sweeps = MarkerSweeps(at_markers, RedundantEnd(*report));
    FillPolicyTimelines(policy_sweeps, *timeline_run, &input.timeline);
  } else {
    FillRecordedDsr(*report, &input.timeline);
  }
  FillMarkers(*report, *pass, geometry,
              MapClasses(*pass, *chosen, options.slab_map_classes),
              policy_sweeps, &input);
  return input;
}

}  // namespace slabtrace
