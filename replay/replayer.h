// Replayer drives a TraceReader through a SlabOccupancy and produces the
// Report of `slabtrace replay`: one Sweep at every marker, every N events
// and every T ms of trace time when asked, and one at the end; validation
// counts; and the trailer's totals reconciled with what was read.
//
// Sweep points:
//  - a marker sweeps before the events with seq >= marker.seq, and closes
//    both DSR windows (since the previous sweep, since the previous marker);
//  - `every_events` N sweeps after every N-th event;
//  - `interval_ms` T sweeps before the first event whose time is at or past
//    the next multiple of T; the sweep's time is the last multiple of T at
//    or before that event (one sweep however many multiples it skipped);
//    when a count sweep already happened at that event index, it is not
//    repeated;
//  - the end sweep follows the last event; its time is the last event's or
//    marker's time.
// Interval and end sweeps close only the since-sweep window.
//
// The report is deterministic: classes in index order, nothing taken from
// hash-table iteration order, file named by base name only.

#ifndef SLABTRACE_REPLAY_REPLAYER_H_
#define SLABTRACE_REPLAY_REPLAYER_H_

#include <cstdint>
#include <functional>

#include "absl/status/statusor.h"
#include "proto/report.pb.h"
#include "proto/trace_reader.h"
#include "replay/slab_occupancy.h"

namespace slabtrace {

class Replayer {
 public:
  // The most live objects the live-object table is sized for from the
  // trailer's max_live_objects before the first event (4 Mi objects: 8 Mi
  // slots, 128 MiB, what the table reaches at 2.6 M to 5.2 M live objects
  // anyway); a larger peak grows from there as without the hint. A bound
  // for damaged or crafted files, whose hint could otherwise make memory
  // follow a number instead of the trace.
  static constexpr uint64_t kMaxReservedLiveObjects = uint64_t{1} << 22;
  // How many live objects to size the table for from `trailer`: its
  // max_live_objects, at most its alloc events (a peak cannot exceed them)
  // and kMaxReservedLiveObjects; 0 when it has no hint.
  static uint64_t LiveObjectsToReserve(const TraceTrailer& trailer);

  // `reader` must outlive the Replayer and be positioned after the header.
  // When the reader found the trailer at open (TraceReader::early_trailer),
  // the live-object table starts at the trace's peak (see
  // kMaxReservedLiveObjects) instead of growing to it.
  Replayer(TraceReader& reader, const ReplayOptions& options);

  // Called after every record with the reader, e.g. for a progress line.
  using Progress = std::function<void(const TraceReader&)>;

  // Replays the rest of the trace. Errors are the reader's (file, offset,
  // reason); a bad trace content is never an error but a Validation count.
  absl::StatusOr<Report> Run(const Progress& progress = nullptr);

  const SlabOccupancy& occupancy() const { return occupancy_; }

 private:
  struct WindowStart {
    uint64_t event_index = 0;
    uint64_t time_ns = 0;
  };

  void ApplyEvents(absl::Span<const Event> events);
  void CountEvents(const TraceRecord& record);
  void TakeSweep(Sweep::Kind kind, uint64_t seq, uint64_t time_ns,
                 const Marker* marker);
  void FillGroundTruth(const std::vector<ClassCounts>& counts,
                       const Marker& marker, GroundTruth* out) const;
  void FillTrace();
  void CheckTrailer();

  TraceReader& reader_;
  const ReplayOptions options_;
  const uint64_t interval_ns_;
  SlabOccupancy occupancy_;
  Report report_;

  uint64_t event_index_ = 0;
  uint64_t next_seq_ = 0;  // seq after the last event applied.
  uint64_t first_time_ns_ = 0;
  uint64_t last_time_ns_ = 0;
  uint64_t next_count_sweep_ = 0;  // event index; 0 = off.
  uint64_t next_time_sweep_ = 0;   // trace time; 0 = off.
  uint64_t last_interval_sweep_index_ = UINT64_MAX;
  uint64_t markers_ = 0;
  uint32_t threads_seen_ = 0;
  uint64_t events_by_kind_[kNumEventKinds] = {};
  WindowStart sweep_window_;
  WindowStart marker_window_;
};

}  // namespace slabtrace

#endif  // SLABTRACE_REPLAY_REPLAYER_H_
