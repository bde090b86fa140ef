#include "replay/slab_occupancy.h"

#include <algorithm>

namespace slabtrace {
namespace {

constexpr int kClassShift = 48;
constexpr uint64_t kSizeMask = (uint64_t{1} << kClassShift) - 1;

uint64_t Pack(uint32_t size_class, uint64_t size) {
  return (uint64_t{size_class} << kClassShift) | std::min(size, kSizeMask);
}
uint32_t ClassOf(uint64_t packed) {
  return static_cast<uint32_t>(packed >> kClassShift);
}
uint64_t SizeOf(uint64_t packed) { return packed & kSizeMask; }

// How far ahead ApplyAll prefetches: enough to cover a cache miss at a few
// nanoseconds per event.
constexpr size_t kPrefetchDistance = 16;

template <typename Map>
size_t TableBytes(const Map& map) {
  // One slot and one control byte per bucket, plus a group of sentinels.
  return map.capacity() * (sizeof(typename Map::slot_type) + 1) + 16;
}

}  // namespace

SlabOccupancy::SlabOccupancy(const SlabGeometry& geometry)
    : geometry_(geometry),
      classes_(geometry.num_classes()),
      class_size_(geometry.num_classes()),
      nregs_(geometry.num_classes()) {
  for (int c = 0; c < geometry.num_classes(); ++c) {
    class_size_[c] = geometry.region_size(c);
    nregs_[c] = geometry.nregs(c);
  }
}

void SlabOccupancy::ApplyAll(absl::Span<const Event> events,
                             uint64_t first_index) {
  const size_t n = events.size();
  for (size_t i = 0; i < n; ++i) {
    if (i + kPrefetchDistance < n) {
      const Event& ahead = events[i + kPrefetchDistance];
      live_.prefetch(ahead.ptr);
      granules_.prefetch(ahead.slab);
    }
    Apply(events[i], first_index + i);
  }
}

void SlabOccupancy::Apply(const Event& event, uint64_t event_index) {
  switch (event.kind) {
    case EventKind::kAlloc:
      Alloc(event, event_index);
      break;
    case EventKind::kFree:
      Free(event, event_index);
      break;
    case EventKind::kResize:
      Resize(event, event_index);
      break;
  }
}

void SlabOccupancy::Alloc(const Event& event, uint64_t event_index) {
  const uint32_t c = event.size_class;
  if (c >= classes_.size() || event.slab == 0) {
    Report(Inconsistency::NO_GRANULE, event, event_index);
    return;
  }
  auto [it, inserted] = live_.try_emplace(event.ptr);
  if (!inserted) {
    Report(Inconsistency::ALLOC_AT_LIVE_ADDRESS, event, event_index);
    Drop(it->second);
  }
  it->second = LiveObject{event.slab, Pack(c, event.size)};
  ClassCounts& counts = classes_[c];
  ++counts.live_objects;
  counts.requested_bytes += SizeOf(it->second.class_and_size);
  AddToGranule(event.slab, c, event, event_index);
}

void SlabOccupancy::Free(const Event& event, uint64_t event_index) {
  if (event.ptr == 0) return;  // free(NULL) is a no-op.
  auto it = live_.find(event.ptr);
  if (it == live_.end()) {
    if (RecentlyFreed(event.ptr)) {
      Report(Inconsistency::DOUBLE_FREE, event, event_index);
    } else {
      validation_.set_unknown_frees(validation_.unknown_frees() + 1);
    }
    return;
  }
  Drop(it->second);
  live_.erase(it);
  recent_frees_[recent_next_] = event.ptr;
  recent_next_ = (recent_next_ + 1) % kRecentFrees;
}

void SlabOccupancy::Resize(const Event& event, uint64_t event_index) {
  auto it = live_.find(event.ptr);
  if (it == live_.end()) {
    validation_.set_unknown_resizes(validation_.unknown_resizes() + 1);
    return;
  }
  const uint32_t c = event.size_class;
  if (c >= classes_.size() || event.slab == 0) {
    Report(Inconsistency::NO_GRANULE, event, event_index);
    return;
  }
  LiveObject& object = it->second;
  const uint32_t old_class = ClassOf(object.class_and_size);
  ClassCounts& old_counts = classes_[old_class];
  --old_counts.live_objects;
  old_counts.requested_bytes -= SizeOf(object.class_and_size);
  object.class_and_size = Pack(c, event.size);
  ClassCounts& counts = classes_[c];
  ++counts.live_objects;
  counts.requested_bytes += SizeOf(object.class_and_size);
  if (object.granule == event.slab) {
    Granule& granule = granules_.find(object.granule)->second;
    if (granule.size_class != c && granule.live == 1) Reclass(granule, c);
    if (granule.size_class == c) return;
    // A shared slab cannot change class in place: fall through and let
    // AddToGranule report the conflict.
  } else {
    Report(Inconsistency::RESIZE_MOVED_GRANULE, event, event_index);
  }
  RemoveFromGranule(object.granule);
  object.granule = event.slab;
  AddToGranule(event.slab, c, event, event_index);
}

void SlabOccupancy::AddToGranule(uint64_t address, uint32_t size_class,
                                 const Event& event, uint64_t event_index) {
  auto [it, inserted] = granules_.try_emplace(address);
  Granule& granule = it->second;
  if (granule.live == 0) {
    if (!inserted && granule.size_class != size_class) {
      // The address now starts a granule of another class: a new granule.
      granule.sweep_stamp = granule.marker_stamp = 0;
    }
    granule.size_class = size_class;
    ClassCounts& counts = classes_[size_class];
    ++counts.pinned;
    if (granule.sweep_stamp != sweep_window_) {
      granule.sweep_stamp = sweep_window_;
      ++counts.held_since_sweep;
    }
    if (granule.marker_stamp != marker_window_) {
      granule.marker_stamp = marker_window_;
      ++counts.held_since_marker;
    }
  } else if (granule.size_class != size_class) {
    Report(Inconsistency::GRANULE_CLASS_CONFLICT, event, event_index);
  } else if (nregs_[size_class] == 0 || granule.live >= nregs_[size_class]) {
    // A large extent holds one object, a slab at most nregs.
    Report(Inconsistency::SLAB_OVERFULL, event, event_index);
  }
  ++granule.live;
}

void SlabOccupancy::RemoveFromGranule(uint64_t address) {
  Granule& granule = granules_.find(address)->second;
  if (--granule.live == 0) --classes_[granule.size_class].pinned;
}

void SlabOccupancy::Reclass(Granule& granule, uint32_t size_class) {
  ClassCounts& from = classes_[granule.size_class];
  ClassCounts& to = classes_[size_class];
  --from.pinned;
  ++to.pinned;
  if (granule.sweep_stamp == sweep_window_) {
    --from.held_since_sweep;
    ++to.held_since_sweep;
  }
  if (granule.marker_stamp == marker_window_) {
    --from.held_since_marker;
    ++to.held_since_marker;
  }
  granule.size_class = size_class;
}

void SlabOccupancy::Drop(const LiveObject& object) {
  ClassCounts& counts = classes_[ClassOf(object.class_and_size)];
  --counts.live_objects;
  counts.requested_bytes -= SizeOf(object.class_and_size);
  RemoveFromGranule(object.granule);
}

bool SlabOccupancy::RecentlyFreed(uint64_t ptr) const {
  return std::find(recent_frees_.begin(), recent_frees_.end(), ptr) !=
         recent_frees_.end();
}

void SlabOccupancy::Report(Inconsistency::Kind kind, const Event& event,
                           uint64_t event_index) {
  validation_.set_inconsistencies(validation_.inconsistencies() + 1);
  switch (kind) {
    case Inconsistency::ALLOC_AT_LIVE_ADDRESS:
      validation_.set_alloc_at_live_address(
          validation_.alloc_at_live_address() + 1);
      break;
    case Inconsistency::DOUBLE_FREE:
      validation_.set_double_frees(validation_.double_frees() + 1);
      break;
    case Inconsistency::NO_GRANULE:
      validation_.set_no_granule(validation_.no_granule() + 1);
      break;
    case Inconsistency::GRANULE_CLASS_CONFLICT:
      validation_.set_granule_class_conflicts(
          validation_.granule_class_conflicts() + 1);
      break;
    case Inconsistency::SLAB_OVERFULL:
      validation_.set_slab_overfull(validation_.slab_overfull() + 1);
      break;
    case Inconsistency::RESIZE_MOVED_GRANULE:
      validation_.set_resize_moved_granule(validation_.resize_moved_granule() +
                                           1);
      break;
    default:
      break;
  }
  if (validation_.first_size() < kMaxInconsistencyDetails) {
    Inconsistency* detail = validation_.add_first();
    detail->set_kind(kind);
    detail->set_event_index(event_index);
    detail->set_seq(event.seq);
    detail->set_ptr(event.ptr);
    detail->set_size_class(event.size_class);
  }
}

std::vector<ClassCounts> SlabOccupancy::Sweep(WindowReset reset) {
  std::vector<ClassCounts> counts = classes_;
  for (const auto& [address, granule] : granules_) {
    const uint32_t nregs = nregs_[granule.size_class];
    if (granule.live == 0 || nregs == 0) continue;
    const int bucket =
        std::min<uint64_t>(kHistogramBuckets - 1,
                           uint64_t{granule.live} * kHistogramBuckets / nregs);
    ++counts[granule.size_class].histogram[bucket];
  }

  const bool marker = reset == WindowReset::kSweepAndMarker;
  ++sweep_window_;
  if (marker) ++marker_window_;
  for (auto it = granules_.begin(); it != granules_.end();) {
    Granule& granule = it->second;
    if (granule.live == 0) {
      // Still needed only if the open marker window counted it as held: a
      // re-pin must not count it twice.
      if (marker || granule.marker_stamp != marker_window_) {
        granules_.erase(it++);
        continue;
      }
    } else {
      granule.sweep_stamp = sweep_window_;
      if (marker) granule.marker_stamp = marker_window_;
    }
    ++it;
  }
  for (ClassCounts& c : classes_) {
    c.held_since_sweep = c.pinned;
    if (marker) c.held_since_marker = c.pinned;
  }
  return counts;
}

size_t SlabOccupancy::table_bytes() const {
  return TableBytes(live_) + TableBytes(granules_);
}

}  // namespace slabtrace
