#include "sim/simulation.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "sim/simulated_allocator.h"

namespace slabtrace {
namespace {

double Ratio(uint64_t numerator, uint64_t denominator) {
  return denominator == 0 ? 0.0 : static_cast<double>(numerator) / denominator;
}

uint64_t CeilDiv(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

// Everything one sweep reports for one policy.
class SweepTaker {
 public:
  SweepTaker(std::string policy, const SimulatedAllocator& allocator,
             PlacementPolicy& placement, bool by_class)
      : policy_(std::move(policy)),
        allocator_(allocator),
        placement_(placement),
        by_class_(by_class) {}

  ComparisonSweep Take(ComparisonSweep::Kind kind, uint64_t seq,
                       uint64_t time_ns, std::string label, uint64_t events) {
    ComparisonSweep sweep;
    sweep.set_kind(kind);
    sweep.set_seq(seq);
    sweep.set_time_ns(time_ns);
    sweep.set_label(std::move(label));
    sweep.set_events(events);
    SweepExtras extras;
    placement_.OnSweep(allocator_, &extras);
    FillRow(extras, sweep.add_rows(), &sweep);
    return sweep;
  }

 private:
  void FillRow(const SweepExtras& extras, PolicyRow* row,
               ComparisonSweep* sweep) {
    const SimGeometry& geometry = allocator_.geometry();
    row->set_policy(policy_);
    uint64_t held = 0, pinned_slabs = 0, pinned = 0;
    uint64_t packing_slabs = 0, packing_granules = 0;
    for (int c = 0; c < geometry.num_classes(); ++c) {
      const SlabTable& slabs = allocator_.slabs(c);
      const ClassCounters& counters = allocator_.counters(c);
      const uint64_t class_packing =
          CeilDiv(counters.live_objects, geometry.capacity(c));
      held += counters.held;
      pinned += slabs.live_slabs();
      packing_granules += class_packing;
      if (geometry.is_small(c)) {
        pinned_slabs += slabs.live_slabs();
        packing_slabs += class_packing;
      }
      if (by_class_ && (counters.held > 0 || counters.live_objects > 0)) {
        AddClassRow(c, class_packing, extras, row->add_classes());
      }
    }
    sweep->set_packing_bound_slabs(packing_slabs);
    sweep->set_packing_bound_bytes(allocator_.packing_bound_bytes());
    row->set_held_granules(held);
    row->set_live_objects(allocator_.live_objects());
    row->set_live_bytes(allocator_.live_bytes());
    row->set_cached_regions(allocator_.cached_regions());
    row->set_placement_conflicts(allocator_.placement_conflicts());
    if (extras.reports_packing_bound) {
      // What moving objects reaches: the packing bound stands in for the
      // policy's own slabs; DSR = share of the window's held granules that
      // perfect compaction would leave empty.
      pinned_slabs = packing_slabs;
      pinned = packing_granules;
      row->set_footprint_bytes(allocator_.packing_bound_bytes());
      row->set_peak_footprint_bytes(allocator_.peak_packing_bound_bytes());
      row->set_meshed_slabs(extras.meshed_slabs);
      row->set_meshed_footprint_bytes(extras.meshed_bytes);
    } else {
      row->set_footprint_bytes(allocator_.footprint_bytes());
      row->set_peak_footprint_bytes(allocator_.peak_footprint_bytes());
    }
    row->set_pinned_slabs(pinned_slabs);
    row->set_pinned_granules(pinned);
    row->set_dsr(held == 0 ? 0.0 : Ratio(held - std::min(held, pinned), held));
    row->set_stranded_bytes(row->footprint_bytes() - allocator_.live_bytes());
  }

  void AddClassRow(int c, uint64_t class_packing, const SweepExtras& extras,
                   ClassRow* out) {
    const SimGeometry& geometry = allocator_.geometry();
    const ClassCounters& counters = allocator_.counters(c);
    const uint64_t pinned = extras.reports_packing_bound
                                ? class_packing
                                : allocator_.slabs(c).live_slabs();
    out->set_size_class(c);
    out->set_region_size(geometry.region_size(c));
    out->set_slab_size(geometry.granule_bytes(c));
    out->set_nregs(geometry.nregs(c));
    out->set_live_objects(counters.live_objects);
    out->set_pinned_granules(pinned);
    out->set_held_granules(counters.held);
    out->set_dsr(counters.held == 0
                     ? 0.0
                     : Ratio(counters.held - std::min(counters.held, pinned),
                             counters.held));
    out->set_footprint_bytes(pinned * geometry.granule_bytes(c));
    out->set_packing_bound_granules(class_packing);
  }

  std::string policy_;
  const SimulatedAllocator& allocator_;
  PlacementPolicy& placement_;
  bool by_class_;
};

struct BufferedEvent {
  ObjectEvent event;  // marker events: marker == nullptr, label below.
  std::string marker_label;
};

// Reads the stream kLookahead events ahead of the simulation and prefetches
// what each event will touch, so that the cache misses of random frees
// overlap instead of adding up.
class LookaheadReader {
 public:
  static constexpr size_t kLookahead = 16;

  LookaheadReader(ObjectStream& stream, const SimulatedAllocator& allocator)
      : stream_(stream), allocator_(allocator) {}

  // The next event, or nullptr at the end. Valid until the next call.
  absl::StatusOr<const BufferedEvent*> Next() {
    while (!at_end_ && buffered_ < kLookahead) {
      BufferedEvent& slot = ring_[(head_ + buffered_) % kLookahead];
      absl::StatusOr<bool> more = stream_.Next(&slot.event);
      if (!more.ok()) return more.status();
      if (!*more) {
        at_end_ = true;
        break;
      }
      if (slot.event.kind == ObjectEvent::Kind::kMarker) {
        // The marker pointer is only valid until the stream's next Next().
        slot.marker_label =
            slot.event.marker != nullptr ? slot.event.marker->label() : "";
        slot.event.marker = nullptr;
      }
      allocator_.Prefetch(slot.event);
      ++buffered_;
    }
    if (buffered_ == 0) return nullptr;
    const BufferedEvent* event = &ring_[head_];
    head_ = (head_ + 1) % kLookahead;
    --buffered_;
    return event;
  }

 private:
  ObjectStream& stream_;
  const SimulatedAllocator& allocator_;
  BufferedEvent ring_[kLookahead];
  size_t head_ = 0;
  size_t buffered_ = 0;
  bool at_end_ = false;
};

ThreadCacheOptions CacheOptions(absl::string_view policy,
                                const SimOptions& options,
                                const TraceHeader& header) {
  ThreadCacheOptions tcache;
  tcache.enabled = options.tcache && policy == "jemalloc";
  tcache.ncached_max.assign(header.tcache_ncached_max().begin(),
                            header.tcache_ncached_max().end());
  return tcache;
}

}  // namespace

absl::StatusOr<PolicyRun> SimulatePolicy(absl::string_view policy,
                                         const StreamFactory& open_stream,
                                         const SimOptions& options) {
  absl::StatusOr<std::unique_ptr<ObjectStream>> opened = open_stream();
  if (!opened.ok()) return opened.status();
  ObjectStream& stream = **opened;
  absl::StatusOr<SimGeometry> geometry =
      SimGeometry::Create(stream.geometry(), options.geometry);
  if (!geometry.ok()) return geometry.status();

  PolicyContext context;
  context.geometry = &*geometry;
  context.header = &stream.header();
  context.epoch_ms = options.epoch_ms;
  context.open_stream = open_stream;
  absl::StatusOr<std::unique_ptr<PlacementPolicy>> placement =
      MakePolicy(policy, context);
  if (!placement.ok()) return placement.status();

  SimulatedAllocator allocator(*geometry, placement->get(),
                               CacheOptions(policy, options, stream.header()));
  SweepTaker sweeps(std::string(policy), allocator, **placement,
                    options.by_class);
  const uint64_t every_ns = options.every_ms * 1000000;
  uint64_t next_time_sweep = every_ns;
  PolicyRun run;
  auto sweep = [&](ComparisonSweep::Kind kind, uint64_t seq, uint64_t time_ns,
                   std::string label) {
    run.sweeps.push_back(
        sweeps.Take(kind, seq, time_ns, std::move(label), run.events));
    allocator.OpenWindow();
  };

  allocator.OpenWindow();
  LookaheadReader reader(stream, allocator);
  uint64_t end_seq = 0, end_time = 0;
  while (true) {
    absl::StatusOr<const BufferedEvent*> next = reader.Next();
    if (!next.ok()) return next.status();
    if (*next == nullptr) break;
    const ObjectEvent& event = (*next)->event;
    end_time = std::max(end_time, event.time_ns);
    if (event.kind == ObjectEvent::Kind::kMarker) {
      sweep(ComparisonSweep::MARKER, event.seq, event.time_ns,
            (*next)->marker_label);
      end_seq = std::max(end_seq, event.seq);
      if (absl::Status s = allocator.Apply(event); !s.ok()) return s;
      continue;
    }
    if (next_time_sweep != 0 && event.time_ns >= next_time_sweep) {
      // Stamped like the replay's interval sweeps: the last interval
      // boundary at or before the event.
      const uint64_t boundary = event.time_ns / every_ns * every_ns;
      sweep(ComparisonSweep::INTERVAL, event.seq, boundary, "");
      // 0 ends interval sweeps: a (corrupt) timestamp near 2^64 must not
      // wrap around and sweep at every event.
      next_time_sweep =
          boundary > UINT64_MAX - every_ns ? 0 : boundary + every_ns;
    }
    if (absl::Status s = allocator.Apply(event); !s.ok()) return s;
    end_seq = std::max(end_seq, event.seq + 1);
    ++run.events;
    if (options.every_events != 0 && run.events % options.every_events == 0) {
      sweep(ComparisonSweep::INTERVAL, event.seq + 1, event.time_ns, "");
    }
  }
  sweep(ComparisonSweep::END, end_seq, end_time, "end");
  run.unknown_frees = stream.unknown_frees();
  return run;
}

}  // namespace slabtrace
