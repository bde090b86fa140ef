#include "replay/replayer.h"

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/optimization.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "replay/internal/sweep_metrics.h"

namespace slabtrace {
namespace {

constexpr uint64_t kNsPerMs = 1000 * 1000;

std::string BaseName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

uint64_t AbsDiff(int64_t diff) {
  return diff < 0 ? static_cast<uint64_t>(-diff) : static_cast<uint64_t>(diff);
}

}  // namespace

Replayer::Replayer(TraceReader& reader, const ReplayOptions& options)
    : reader_(reader),
      options_(options),
      interval_ns_(options.interval_ms() * kNsPerMs),
      occupancy_(reader.geometry()) {
  *report_.mutable_options() = options_;
  next_count_sweep_ = options_.every_events();
  next_time_sweep_ = interval_ns_;
  if (const std::optional<TraceTrailer>& trailer = reader.early_trailer();
      trailer.has_value()) {
    occupancy_.ReserveLiveObjects(
        static_cast<size_t>(LiveObjectsToReserve(*trailer)));
  }
}

uint64_t Replayer::LiveObjectsToReserve(const TraceTrailer& trailer) {
  // A hint beyond either bound is damaged: capped, never trusted further.
  const auto allocs = trailer.events_by_kind().find(
      std::string(EventKindName(EventKind::kAlloc)));
  const uint64_t alloc_events =
      allocs == trailer.events_by_kind().end() ? 0 : allocs->second;
  return std::min(
      {trailer.max_live_objects(), alloc_events, kMaxReservedLiveObjects});
}

absl::StatusOr<Report> Replayer::Run(const Progress& progress) {
  TraceRecord record;
  while (true) {
    absl::StatusOr<bool> more = reader_.Next(&record);
    if (!more.ok()) return more.status();
    if (!*more) break;
    if (record.type == TraceRecord::Type::kMarker) {
      ++markers_;
      last_time_ns_ = std::max(last_time_ns_, record.marker->time_ns());
      TakeSweep(Sweep::MARKER, record.marker->seq(), record.marker->time_ns(),
                record.marker);
    } else {
      CountEvents(record);
      ApplyEvents(record.events);
    }
    if (progress) progress(reader_);
  }
  TakeSweep(Sweep::END, next_seq_, last_time_ns_, nullptr);
  FillTrace();
  *report_.mutable_validation() = occupancy_.validation();
  report_.mutable_validation()->set_events(event_index_);
  CheckTrailer();
  return std::move(report_);
}

void Replayer::CountEvents(const TraceRecord& record) {
  if (record.events.empty()) return;
  if (event_index_ == 0) first_time_ns_ = record.events.front().time_ns;
  // The reader counted the run's kinds while decoding and found its largest
  // thread while the run was in L1: no pass over the events here (one cost
  // about 1.2 ns per event, 4 % of file -> report on the Redis traces).
  for (int k = 0; k < kNumEventKinds; ++k) {
    events_by_kind_[k] += record.kind_counts[k];
  }
  // The record's largest thread number + 1, in 32 bits, as before.
  threads_seen_ = std::max(threads_seen_, record.max_thread + 1);
}

void Replayer::ApplyEvents(absl::Span<const Event> events) {
  while (!events.empty()) {
    size_t n = events.size();
    if (next_count_sweep_ != 0) {
      n = std::min<uint64_t>(n, next_count_sweep_ - event_index_);
    }
    if (next_time_sweep_ != 0) {
      for (size_t i = 0; i < n; ++i) {
        if (events[i].time_ns >= next_time_sweep_) {
          n = i;
          break;
        }
      }
    }
    if (n > 0) {
      occupancy_.ApplyAll(events.first(n), event_index_);
      event_index_ += n;
      next_seq_ = events[n - 1].seq + 1;
      last_time_ns_ = std::max(last_time_ns_, events[n - 1].time_ns);
      events.remove_prefix(n);
    }
    if (next_count_sweep_ != 0 && event_index_ == next_count_sweep_) {
      TakeSweep(Sweep::INTERVAL, next_seq_, last_time_ns_, nullptr);
      last_interval_sweep_index_ = event_index_;
      next_count_sweep_ += options_.every_events();
    }
    if (!events.empty() && next_time_sweep_ != 0 &&
        events.front().time_ns >= next_time_sweep_) {
      const uint64_t boundary =
          events.front().time_ns / interval_ns_ * interval_ns_;
      if (last_interval_sweep_index_ != event_index_) {
        TakeSweep(Sweep::INTERVAL, events.front().seq, boundary, nullptr);
        last_interval_sweep_index_ = event_index_;
      }
      // Saturate: a (corrupt) timestamp near 2^64 must end interval sweeps,
      // not wrap around and sweep forever.
      next_time_sweep_ =
          boundary > UINT64_MAX - interval_ns_ ? 0 : boundary + interval_ns_;
    }
  }
}

void Replayer::TakeSweep(Sweep::Kind kind, uint64_t seq, uint64_t time_ns,
                         const Marker* marker) {
  const bool at_marker = kind == Sweep::MARKER;
  const std::vector<ClassCounts> counts = occupancy_.Sweep(
      at_marker ? WindowReset::kSweepAndMarker : WindowReset::kSweepOnly);
  const SlabGeometry& geometry = reader_.geometry();

  Sweep* sweep = report_.add_sweeps();
  sweep->set_kind(kind);
  sweep->set_event_index(event_index_);
  sweep->set_seq(seq);
  sweep->set_time_ns(time_ns);
  if (marker != nullptr) sweep->set_label(marker->label());
  if (kind == Sweep::END) sweep->set_label("end");

  Occupancy* total = sweep->mutable_total();
  if (options_.histogram()) {
    for (int i = 0; i < kHistogramBuckets; ++i) total->add_histogram(0);
  }
  for (uint32_t c = 0; c < counts.size(); ++c) {
    if (!HasActivity(counts[c])) continue;
    ClassOccupancy row;
    row.set_size_class(c);
    row.set_class_size(geometry.region_size(c));
    row.set_nregs(geometry.nregs(c));
    row.set_granule_bytes(geometry.granule_bytes(c));
    FillClassOccupancy(geometry, c, counts[c], options_.histogram(),
                       row.mutable_occupancy());
    row.mutable_occupancy()->mutable_dsr_since_sweep()->set_start_event_index(
        sweep_window_.event_index);
    row.mutable_occupancy()->mutable_dsr_since_sweep()->set_start_time_ns(
        sweep_window_.time_ns);
    row.mutable_occupancy()->mutable_dsr_since_marker()->set_start_event_index(
        marker_window_.event_index);
    row.mutable_occupancy()->mutable_dsr_since_marker()->set_start_time_ns(
        marker_window_.time_ns);
    AddOccupancy(row.occupancy(), total);
    if (options_.by_class()) *sweep->add_classes() = std::move(row);
  }
  DsrWindow* since_sweep = total->mutable_dsr_since_sweep();
  since_sweep->set_start_event_index(sweep_window_.event_index);
  since_sweep->set_start_time_ns(sweep_window_.time_ns);
  FinishDsr(since_sweep);
  DsrWindow* since_marker = total->mutable_dsr_since_marker();
  since_marker->set_start_event_index(marker_window_.event_index);
  since_marker->set_start_time_ns(marker_window_.time_ns);
  FinishDsr(since_marker);

  GroundTruth* truth = sweep->mutable_ground_truth();
  if (marker != nullptr && marker->has_stats()) {
    FillGroundTruth(counts, *marker, truth);
  }

  sweep_window_ = {event_index_, time_ns};
  if (at_marker) marker_window_ = sweep_window_;
}

void Replayer::FillGroundTruth(const std::vector<ClassCounts>& counts,
                               const Marker& marker, GroundTruth* out) const {
  const AllocatorStats& stats = marker.stats();
  const SlabGeometry& geometry = reader_.geometry();
  const TraceHeader& header = reader_.header();
  const uint32_t threads =
      stats.threads() != 0 ? stats.threads() : threads_seen_;
  out->set_available(true);
  out->set_threads(threads);

  // jemalloc's side by class; bins may come in any order.
  const int n = geometry.num_classes();
  std::vector<uint64_t> curslabs(n, 0), curregs(n, 0);
  for (const BinStats& bin : stats.bins()) {
    if (bin.size_class() >= static_cast<uint32_t>(n)) continue;
    curslabs[bin.size_class()] += bin.curslabs();
    curregs[bin.size_class()] += bin.curregs();
  }
  for (int c = geometry.nbins(); c < n; ++c) {
    auto it = stats.large_curlextents().find(c);
    if (it == stats.large_curlextents().end()) continue;
    curslabs[c] = it->second;
    curregs[c] = it->second;
  }

  uint32_t outside = 0;
  for (int c = 0; c < n; ++c) {
    const uint64_t replay_slabs = counts[c].pinned;
    const uint64_t replay_regions = counts[c].live_objects;
    if (replay_slabs == 0 && replay_regions == 0 && curslabs[c] == 0 &&
        curregs[c] == 0) {
      continue;
    }
    GroundTruthClass* row = out->add_classes();
    row->set_size_class(c);
    row->set_class_size(geometry.region_size(c));
    row->set_large(!geometry.is_small(c));
    row->set_replay_slabs(replay_slabs);
    row->set_replay_regions(replay_regions);
    row->set_jemalloc_curslabs(curslabs[c]);
    row->set_jemalloc_curregs(curregs[c]);
    row->set_slabs_diff(static_cast<int64_t>(curslabs[c]) -
                        static_cast<int64_t>(replay_slabs));
    row->set_regions_diff(static_cast<int64_t>(curregs[c]) -
                          static_cast<int64_t>(replay_regions));
    const uint64_t ncached =
        c < header.tcache_ncached_max_size() ? header.tcache_ncached_max(c) : 0;
    row->set_bound(ncached * threads);
    row->set_within_bound(AbsDiff(row->slabs_diff()) <= row->bound() &&
                          AbsDiff(row->regions_diff()) <= row->bound());
    if (!row->within_bound()) ++outside;
  }
  out->set_classes_outside_bound(outside);
  out->set_all_within_bound(outside == 0);
}

void Replayer::FillTrace() {
  TraceFacts* facts = report_.mutable_trace();
  const TraceHeader& header = reader_.header();
  facts->set_file(BaseName(reader_.name()));
  facts->set_allocator(header.allocator());
  facts->set_allocator_version(header.allocator_version());
  facts->set_page_size(header.page_size());
  facts->set_nbins(reader_.geometry().nbins());
  facts->set_num_classes(reader_.geometry().num_classes());
  facts->set_events(event_index_);
  facts->set_markers(markers_);
  facts->set_first_time_ns(first_time_ns_);
  facts->set_last_time_ns(last_time_ns_);
}

void Replayer::CheckTrailer() {
  TrailerCheck* check = report_.mutable_trailer();
  check->set_replayed_events(event_index_);
  check->set_replayed_markers(markers_);
  // Warnings name the file as opened; keep output independent of paths.
  const std::string base = BaseName(reader_.name());
  for (const std::string& warning : reader_.warnings()) {
    check->add_reader_warnings(
        absl::StrReplaceAll(warning, {{reader_.name(), base}}));
  }
  const std::optional<TraceTrailer>& trailer = reader_.trailer();
  check->set_has_trailer(trailer.has_value());
  if (!trailer.has_value()) {
    check->set_agrees(false);
    check->add_disagreements("no trailer: the trace was cut short");
    return;
  }
  check->set_complete(trailer->complete());
  check->set_incomplete_reason(trailer->incomplete_reason());
  check->set_trailer_events(trailer->event_count());
  check->set_trailer_markers(trailer->marker_count());
  check->set_dropped_events(trailer->dropped_events());
  if (trailer->event_count() != event_index_) {
    check->add_disagreements(
        absl::StrFormat("trailer says %d events, replay read %d",
                        trailer->event_count(), event_index_));
  }
  if (trailer->marker_count() != markers_) {
    check->add_disagreements(
        absl::StrFormat("trailer says %d markers, replay read %d",
                        trailer->marker_count(), markers_));
  }
  for (int k = 0; k < kNumEventKinds; ++k) {
    const std::string name(EventKindName(static_cast<EventKind>(k)));
    auto it = trailer->events_by_kind().find(name);
    const uint64_t expected =
        it == trailer->events_by_kind().end() ? 0 : it->second;
    if (expected != events_by_kind_[k]) {
      check->add_disagreements(
          absl::StrFormat("trailer says %d %s events, replay read %d", expected,
                          name, events_by_kind_[k]));
    }
  }
  if (!trailer->complete()) {
    check->add_disagreements(absl::StrFormat(
        "recorder marked the trace incomplete: %s (%d events dropped)",
        trailer->incomplete_reason(), trailer->dropped_events()));
  }
  check->set_agrees(check->disagreements_size() == 0);
}

}  // namespace slabtrace
