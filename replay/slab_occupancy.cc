#include "replay/slab_occupancy.h"

#include <algorithm>

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"

namespace slabtrace {
namespace {

constexpr int kClassShift = 32;
constexpr int kSlackShift = 48;

uint64_t Pack(uint32_t granule, uint32_t size_class, uint64_t slack) {
  return uint64_t{granule} | (uint64_t{size_class} << kClassShift) |
         (slack << kSlackShift);
}
uint32_t GranuleOf(uint64_t value) { return static_cast<uint32_t>(value); }
uint32_t ClassOf(uint64_t value) {
  return static_cast<uint32_t>(value >> kClassShift) & 0xFFFF;
}
uint64_t SlackOf(uint64_t value) { return value >> kSlackShift; }

// How far ahead ApplyAll prefetches: enough to cover a cache miss at a few
// nanoseconds per event.
constexpr size_t kPrefetchDistance = 16;

static_assert((SlabOccupancy::kRecentFrees &
               (SlabOccupancy::kRecentFrees - 1)) == 0,
              "the recent-frees ring wraps with a mask");

}  // namespace

SlabOccupancy::SlabOccupancy(const SlabGeometry& geometry)
    : geometry_(geometry),
      classes_(geometry.num_classes()),
      num_classes_(static_cast<uint32_t>(geometry.num_classes())),
      class_size_(geometry.num_classes()),
      nregs_(geometry.num_classes()),
      slab_size_(geometry.num_classes()),
      reciprocal_(geometry.num_classes()),
      granule_bytes_(geometry.num_classes()),
      nbins_(static_cast<uint32_t>(geometry.nbins())),
      granule_cache_(kMinGranuleCache, kNoGranule),
      granule_cache_shift_(64 - __builtin_ctzll(kMinGranuleCache)) {
  granules_.emplace_back();  // granules_[kNoGranule]: see granule_cache_.
  region_storage_.emplace_back();
  // Region mode needs every small class's slack to fit 16 bits beside
  // kEmptyRegion and the reciprocal division to be exact.
  regions_ = true;
  for (int c = 0; c < geometry.num_classes(); ++c) {
    class_size_[c] = geometry.region_size(c);
    nregs_[c] = geometry.nregs(c);
    granule_bytes_[c] = geometry.granule_bytes(c);
    if (!geometry.is_small(c)) continue;
    slab_size_[c] = geometry.slab_size(c);
    const uint64_t size = class_size_[c];
    if (size == 0 || size >= kEmptyRegion || slab_size_[c] >= (1u << 26) ||
        slab_size_[c] * size >= (uint64_t{1} << kReciprocalShift) ||
        slab_size_[c] != uint64_t{nregs_[c]} * size) {
      regions_ = false;
      continue;
    }
    reciprocal_[c] = ((uint64_t{1} << kReciprocalShift) / size) + 1;
  }
}

void SlabOccupancy::ReserveLiveObjects(size_t n) {
  reserved_live_objects_ = n;
  if (!regions_) live_.Reserve(n);
}

ABSL_ATTRIBUTE_ALWAYS_INLINE inline void SlabOccupancy::ReleaseGranule(
    uint32_t index) {
  Granule& granule = granules_[index];
  if (ABSL_PREDICT_FALSE(--granule.live == 0)) Drained(granule);
}

ABSL_ATTRIBUTE_NOINLINE void SlabOccupancy::Drained(Granule& granule) {
  --classes_[granule.size_class].pinned;
  // A drained small granule keeps its entry (see ranges_).
  if (regions_ && granule.size_class >= nbins_) ranges_.erase(granule.address);
}

ABSL_ATTRIBUTE_ALWAYS_INLINE inline uint64_t SlabOccupancy::Admit(
    uint64_t ptr, uint32_t size_class, uint64_t size, uint32_t granule) {
  const uint64_t class_size = class_size_[size_class];
  // A request above its class size is already inconsistent; count it as
  // exactly the class size.
  const uint64_t slack = size < class_size ? class_size - size : 0;
  if (ABSL_PREDICT_FALSE(slack >= kSlackElsewhere)) {
    return AdmitElsewhere(ptr, size_class, size, granule);
  }
  ClassCounts& counts = classes_[size_class];
  ++counts.live_objects;
  counts.requested_bytes += class_size - slack;
  return Pack(granule, size_class, slack);
}

ABSL_ATTRIBUTE_NOINLINE uint64_t SlabOccupancy::AdmitElsewhere(
    uint64_t ptr, uint32_t size_class, uint64_t size, uint32_t granule) {
  *large_requested_.Insert(ptr).first = size;
  ClassCounts& counts = classes_[size_class];
  ++counts.live_objects;
  counts.requested_bytes += size;
  return Pack(granule, size_class, kSlackElsewhere);
}

ABSL_ATTRIBUTE_ALWAYS_INLINE inline uint64_t SlabOccupancy::Forget(
    uint64_t ptr, uint64_t value) {
  const uint32_t c = ClassOf(value);
  const uint64_t slack = SlackOf(value);
  const uint64_t requested = ABSL_PREDICT_FALSE(slack == kSlackElsewhere)
                                 ? TakeRequestedElsewhere(ptr)
                                 : class_size_[c] - slack;
  ClassCounts& counts = classes_[c];
  --counts.live_objects;
  counts.requested_bytes -= requested;
  return requested;
}

ABSL_ATTRIBUTE_NOINLINE uint64_t
SlabOccupancy::TakeRequestedElsewhere(uint64_t ptr) {
  uint64_t* stored = large_requested_.Find(ptr);
  const uint64_t requested = *stored;
  large_requested_.Erase(stored);
  return requested;
}

ABSL_ATTRIBUTE_ALWAYS_INLINE inline uint32_t SlabOccupancy::AcquireGranule(
    uint64_t address, uint32_t size_class, const Event& event,
    uint64_t event_index) {
  uint32_t index = granule_cache_[GranuleCacheSlot(address)];
  if (ABSL_PREDICT_FALSE(granules_[index].address != address)) {
    index = FindOrAddGranule(address, size_class);
  }
  Granule& granule = granules_[index];
  if (ABSL_PREDICT_FALSE(granule.live == 0)) {
    Pin(granule, size_class);
  } else if (ABSL_PREDICT_FALSE(granule.size_class != size_class)) {
    Report(Inconsistency::GRANULE_CLASS_CONFLICT, event, event_index);
  } else if (ABSL_PREDICT_FALSE(granule.live >= nregs_[size_class])) {
    // A large extent holds one object (nregs 0), a slab at most nregs.
    Report(Inconsistency::SLAB_OVERFULL, event, event_index);
  }
  ++granule.live;
  return index;
}

ABSL_ATTRIBUTE_NOINLINE uint32_t
SlabOccupancy::FindOrAddGranule(uint64_t address, uint32_t size_class) {
  auto [slot, inserted] = granule_index_.Insert(address);
  if (inserted) {
    uint32_t index;
    if (free_granules_.empty()) {
      index = static_cast<uint32_t>(granules_.size());
      granules_.emplace_back();
    } else {
      index = free_granules_.back();
      free_granules_.pop_back();
    }
    granules_[index] = Granule{address, 0, size_class, 0, 0};
    *slot = index;
    if (granules_.size() * kGranuleCacheRatio > granule_cache_.size()) {
      GrowGranuleCache();
    }
  }
  const uint32_t index = static_cast<uint32_t>(*slot);
  granule_cache_[GranuleCacheSlot(address)] = index;
  return index;
}

void SlabOccupancy::GrowGranuleCache() {
  std::vector<uint32_t> cache(granule_cache_.size() * 2, kNoGranule);
  granule_cache_.swap(cache);
  granule_cache_shift_ = 64 - __builtin_ctzll(granule_cache_.size());
  // Refill with every tracked granule; on a collision the later index
  // wins, which only costs a lookup.
  for (uint32_t i = 0; i < granules_.size(); ++i) {
    if (granules_[i].address != 0) {
      granule_cache_[GranuleCacheSlot(granules_[i].address)] = i;
    }
  }
}

ABSL_ATTRIBUTE_NOINLINE void SlabOccupancy::Pin(Granule& granule,
                                                uint32_t size_class) {
  if (granule.size_class != size_class) {
    // The address now starts a granule of another class: another granule,
    // held in this window only if that class already held it here.
    const uint64_t address = granule.address;
    stamps_of_earlier_class_[{address, granule.size_class}] = {
        granule.sweep_stamp, granule.marker_stamp};
    const auto earlier = stamps_of_earlier_class_.find({address, size_class});
    if (earlier == stamps_of_earlier_class_.end()) {
      granule.sweep_stamp = granule.marker_stamp = 0;
    } else {
      granule.sweep_stamp = earlier->second.first;
      granule.marker_stamp = earlier->second.second;
      stamps_of_earlier_class_.erase(earlier);
    }
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
}

ABSL_ATTRIBUTE_ALWAYS_INLINE inline void SlabOccupancy::Alloc(
    const Event& event, uint64_t event_index) {
  if (ABSL_PREDICT_FALSE(event.ptr == 0)) return;  // a failed allocation.
  const uint32_t c = event.size_class;
  if (ABSL_PREDICT_FALSE(c >= num_classes_ || event.slab == 0)) {
    Report(Inconsistency::NO_GRANULE, event, event_index);
    return;
  }
  auto [value, inserted] = live_.Insert(event.ptr);
  if (ABSL_PREDICT_FALSE(!inserted)) {
    AllocAtLiveAddress(event, event_index, *value);
  }
  // AcquireGranule and Admit do not touch live_: `value` stays valid.
  const uint32_t granule = AcquireGranule(event.slab, c, event, event_index);
  *value = Admit(event.ptr, c, event.size, granule);
}

ABSL_ATTRIBUTE_NOINLINE void SlabOccupancy::AllocAtLiveAddress(
    const Event& event, uint64_t event_index, uint64_t old_value) {
  Report(Inconsistency::ALLOC_AT_LIVE_ADDRESS, event, event_index);
  ReleaseGranule(GranuleOf(old_value));
  Forget(event.ptr, old_value);
}

ABSL_ATTRIBUTE_ALWAYS_INLINE inline void SlabOccupancy::Free(
    const Event& event, uint64_t event_index) {
  const uint64_t ptr = event.ptr;
  if (ABSL_PREDICT_FALSE(ptr == 0)) return;  // free(NULL) is a no-op.
  uint64_t* value = live_.Find(ptr);
  if (ABSL_PREDICT_FALSE(value == nullptr)) {
    FreeOfNonLive(event, event_index);
    return;
  }
  const uint64_t v = *value;
  ReleaseGranule(GranuleOf(v));
  Forget(ptr, v);
  live_.Erase(value);
  recent_frees_[recent_next_] = ptr;
  recent_next_ = (recent_next_ + 1) & (kRecentFrees - 1);
}

ABSL_ATTRIBUTE_NOINLINE void SlabOccupancy::FreeOfNonLive(
    const Event& event, uint64_t event_index) {
  if (RecentlyFreed(event.ptr)) {
    Report(Inconsistency::DOUBLE_FREE, event, event_index);
  } else {
    validation_.set_unknown_frees(validation_.unknown_frees() + 1);
  }
}

ABSL_ATTRIBUTE_NOINLINE void SlabOccupancy::Resize(const Event& event,
                                                   uint64_t event_index) {
  uint64_t* value = event.ptr == 0 ? nullptr : live_.Find(event.ptr);
  if (value == nullptr) {
    validation_.set_unknown_resizes(validation_.unknown_resizes() + 1);
    return;
  }
  const uint32_t c = event.size_class;
  if (c >= num_classes_ || event.slab == 0) {
    Report(Inconsistency::NO_GRANULE, event, event_index);
    return;
  }
  const uint32_t index = GranuleOf(*value);
  Forget(event.ptr, *value);
  Granule& granule = granules_[index];
  if (granule.address == event.slab) {
    if (granule.size_class != c && granule.live == 1) Reclass(granule, c);
    if (granule.size_class == c) {
      *value = Admit(event.ptr, c, event.size, index);
      return;
    }
    // A shared slab cannot change class in place: move the object and let
    // AcquireGranule report the conflict.
  } else {
    Report(Inconsistency::RESIZE_MOVED_GRANULE, event, event_index);
  }
  ReleaseGranule(index);
  const uint32_t moved = AcquireGranule(event.slab, c, event, event_index);
  *value = Admit(event.ptr, c, event.size, moved);
}

ABSL_ATTRIBUTE_ALWAYS_INLINE inline void SlabOccupancy::ApplyOne(
    const Event& event, uint64_t event_index) {
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

void SlabOccupancy::ApplyAll(absl::Span<const Event> events,
                             uint64_t first_index) {
  const Event* const e = events.data();
  const size_t n = events.size();
  size_t i = 0;
  if (regions_) {
    // No prefetch: what an event touches (granule cache, granules_, region
    // arrays) is small enough to stay in the caches.
    for (; i < n; ++i) {
      if (ABSL_PREDICT_FALSE(!RegionApplyOne(e[i], first_index + i))) {
        LeaveRegionMode();
        break;  // e[i] is applied below, in hash mode.
      }
    }
  }
  if (n - i > kPrefetchDistance) {
    for (; i < n - kPrefetchDistance; ++i) {
      const Event& ahead = e[i + kPrefetchDistance];
      // Only the object's slot: an allocation finds its granule through
      // granule_cache_ (mostly) or the small, cache-resident granule index,
      // a free or resize through the object's value. Prefetching the index
      // slot too measured 9-12 % slower.
      live_.Prefetch(ahead.ptr);
      ApplyOne(e[i], first_index + i);
    }
  }
  for (; i < n; ++i) ApplyOne(e[i], first_index + i);
}

void SlabOccupancy::Apply(const Event& event, uint64_t event_index) {
  if (regions_) {
    if (RegionApplyOne(event, event_index)) return;
    LeaveRegionMode();
  }
  ApplyOne(event, event_index);
}

// ---- Region mode ----

ABSL_ATTRIBUTE_ALWAYS_INLINE inline bool SlabOccupancy::RegionApplyOne(
    const Event& event, uint64_t event_index) {
  switch (event.kind) {
    case EventKind::kAlloc:
      return RegionAlloc(event, event_index);
    case EventKind::kFree:
      return RegionFree(event, event_index);
    case EventKind::kResize:
      return RegionResize(event, event_index);
  }
  return false;
}

ABSL_ATTRIBUTE_ALWAYS_INLINE inline bool SlabOccupancy::RegionAlloc(
    const Event& event, uint64_t event_index) {
  const uint64_t ptr = event.ptr;
  if (ABSL_PREDICT_FALSE(ptr == 0)) return true;  // a failed allocation.
  const uint32_t c = event.size_class;
  const uint64_t address = event.slab;
  if (ABSL_PREDICT_FALSE(c >= num_classes_ || address == 0)) {
    Report(Inconsistency::NO_GRANULE, event, event_index);
    return true;
  }
  if (ABSL_PREDICT_FALSE(c >= nbins_))
    return RegionAllocLarge(event, event_index);
  uint32_t region;
  // A slab the reader computed always holds ptr at a region start.
  if (ABSL_PREDICT_FALSE(!RegionIn(address, c, ptr, &region))) return false;
  uint32_t index = granule_cache_[GranuleCacheSlot(address)];
  if (ABSL_PREDICT_FALSE(granules_[index].address != address)) {
    index = FindOrAddGranule(address, c);
  }
  Granule& granule = granules_[index];
  if (ABSL_PREDICT_FALSE(granule.live == 0 || granule.size_class != c ||
                         granule.slack[region] != kEmptyRegion)) {
    return RegionAllocSlow(event, index, region);
  }
  RegionAdmit(granule, c, region, event.size);
  return true;
}

ABSL_ATTRIBUTE_ALWAYS_INLINE inline void SlabOccupancy::RegionAdmit(
    Granule& granule, uint32_t c, uint32_t region, uint64_t size) {
  const uint64_t class_size = class_size_[c];
  // A request above its class size is already inconsistent; count it as
  // exactly the class size (as Admit does).
  const uint64_t slack = size < class_size ? class_size - size : 0;
  granule.slack[region] = static_cast<uint16_t>(slack);
  ++granule.live;
  ++region_live_;
  ClassCounts& counts = classes_[c];
  ++counts.live_objects;
  counts.requested_bytes += class_size - slack;
}

ABSL_ATTRIBUTE_NOINLINE bool SlabOccupancy::RegionAllocSlow(const Event& event,
                                                            uint32_t index,
                                                            uint32_t region) {
  const uint32_t c = event.size_class;
  Granule& granule = granules_[index];
  // A pinned granule of another class is a class conflict, a live region
  // an alloc at a live address: both are for hash mode.
  if (granule.live != 0) return false;
  if (granule.slack != nullptr && granule.size_class == c) {
    // Drained, its entry still in ranges_ with this range, which no other
    // entry overlaps: no B-tree work (the common re-pin).
    Pin(granule, c);
  } else if (!ClearRangeForPin(index, c) || !RegionPin(index, c)) {
    // An object live at ptr elsewhere would be in a pinned granule whose
    // range holds ptr, which overlaps this one's.
    return false;
  }
  RegionAdmit(granules_[index], c, region, event.size);
  return true;
}

ABSL_ATTRIBUTE_NOINLINE bool SlabOccupancy::RegionAllocLarge(
    const Event& event, uint64_t event_index) {
  const uint32_t c = event.size_class;
  // A large object outside the extent its event names (not something the
  // reader hands out, which takes the extent from the pointer) would break
  // "the live object at ptr is in the pinned granule holding ptr".
  if (event.ptr - event.slab >= granule_bytes_[c]) return false;
  const uint32_t index = FindOrAddGranule(event.slab, c);
  // A large granule holds one object: a second one (at ptr or elsewhere)
  // is an inconsistency for hash mode to report. An object live at ptr
  // in another granule would be in a pinned granule whose range holds ptr,
  // which this one's range holds too: ClearRangeForPin sees it.
  if (granules_[index].live != 0 || !ClearRangeForPin(index, c)) return false;
  auto [value, inserted] = live_.Insert(event.ptr);
  if (!inserted) return false;  // unreachable by the invariants; be safe.
  AcquireGranule(event.slab, c, event, event_index);
  *value = Admit(event.ptr, c, event.size, index);
  ranges_.emplace(event.slab, index);
  return true;
}

ABSL_ATTRIBUTE_ALWAYS_INLINE inline bool SlabOccupancy::RegionFree(
    const Event& event, uint64_t event_index) {
  const uint64_t ptr = event.ptr;
  if (ABSL_PREDICT_FALSE(ptr == 0)) return true;  // free(NULL) is a no-op.
  const uint32_t c = event.size_class;
  const uint64_t address = event.slab;
  uint32_t region;
  // The common case: the free names its object's class, so event.slab is
  // its granule. Any other case (a large object, a free naming another
  // class, a pointer never allocated) takes the slow path.
  if (ABSL_PREDICT_FALSE(c >= nbins_ || address == 0 ||
                         !RegionIn(address, c, ptr, &region))) {
    return RegionFreeSlow(event, event_index);
  }
  const uint32_t index = granule_cache_[GranuleCacheSlot(address)];
  Granule& granule = granules_[index];
  if (ABSL_PREDICT_FALSE(granule.address != address || granule.live == 0 ||
                         granule.size_class != c ||
                         granule.slack[region] == kEmptyRegion)) {
    return RegionFreeSlow(event, event_index);
  }
  RegionRemove(index, region, ptr);
  return true;
}

ABSL_ATTRIBUTE_ALWAYS_INLINE inline void SlabOccupancy::RegionRemove(
    uint32_t index, uint32_t region, uint64_t ptr) {
  Granule& granule = granules_[index];
  const uint32_t c = granule.size_class;
  ClassCounts& counts = classes_[c];
  --counts.live_objects;
  counts.requested_bytes -= class_size_[c] - granule.slack[region];
  granule.slack[region] = kEmptyRegion;
  --region_live_;
  ReleaseGranule(index);
  recent_frees_[recent_next_] = ptr;
  recent_next_ = (recent_next_ + 1) & (kRecentFrees - 1);
}

ABSL_ATTRIBUTE_NOINLINE bool SlabOccupancy::RegionFreeSlow(
    const Event& event, uint64_t event_index) {
  const uint64_t ptr = event.ptr;
  // A free ignores its recorded class (as in hash mode): the object is
  // whatever is live at ptr. A large one is in live_ ...
  if (live_.size() != 0 && live_.Find(ptr) != nullptr) {
    Free(event, event_index);
    return true;
  }
  // ... a small one in the one pinned granule holding ptr.
  const uint32_t index = PinnedGranuleHolding(ptr);
  const Granule& granule = granules_[index];
  uint32_t region;
  if (index != kNoGranule && granule.size_class < nbins_ &&
      RegionIn(granule.address, granule.size_class, ptr, &region) &&
      granule.slack[region] != kEmptyRegion) {
    // Next time the fast path finds it (a cache slot it lost to another
    // granule).
    if (granule.address == event.slab) {
      granule_cache_[GranuleCacheSlot(granule.address)] = index;
    }
    RegionRemove(index, region, ptr);
    return true;
  }
  FreeOfNonLive(event, event_index);
  return true;
}

ABSL_ATTRIBUTE_NOINLINE bool SlabOccupancy::RegionResize(const Event& event,
                                                         uint64_t event_index) {
  const uint64_t ptr = event.ptr;
  const uint32_t c = event.size_class;
  if (ptr != 0 && live_.size() != 0 && live_.Find(ptr) != nullptr) {
    // A large object. In place in its granule, same class or (alone in
    // it) another large class whose range overlaps no other granule: as
    // in hash mode. Anything else is for hash mode.
    const uint32_t index = GranuleOf(*live_.Find(ptr));
    const Granule& granule = granules_[index];
    if (c >= num_classes_ || event.slab == 0) {
      Report(Inconsistency::NO_GRANULE, event, event_index);
      return true;
    }
    if (granule.address != event.slab || c < nbins_) return false;
    if (granule.size_class != c) {
      // Reclass changes the range: check it against the others.
      ranges_.erase(granule.address);
      const bool clear = ClearRangeForPin(index, c);
      ranges_.emplace(granule.address, index);
      if (!clear) return false;
    }
    Resize(event, event_index);
    return true;
  }
  const uint32_t index = ptr == 0 ? kNoGranule : PinnedGranuleHolding(ptr);
  Granule& granule = granules_[index];
  uint32_t region;
  if (index == kNoGranule || granule.size_class >= nbins_ ||
      !RegionIn(granule.address, granule.size_class, ptr, &region) ||
      granule.slack[region] == kEmptyRegion) {
    validation_.set_unknown_resizes(validation_.unknown_resizes() + 1);
    return true;
  }
  if (c >= num_classes_ || event.slab == 0) {
    Report(Inconsistency::NO_GRANULE, event, event_index);
    return true;
  }
  // A small object resized in place within its class: new slack. Moving
  // it or changing its class is for hash mode.
  if (granule.address != event.slab || granule.size_class != c) return false;
  const uint64_t class_size = class_size_[c];
  ClassCounts& counts = classes_[c];
  counts.requested_bytes -= class_size - granule.slack[region];
  const uint64_t slack = event.size < class_size ? class_size - event.size : 0;
  granule.slack[region] = static_cast<uint16_t>(slack);
  counts.requested_bytes += class_size - slack;
  return true;
}

uint32_t SlabOccupancy::PinnedGranuleHolding(uint64_t ptr) const {
  auto it = ranges_.upper_bound(ptr);
  if (it == ranges_.begin()) return kNoGranule;
  --it;
  const Granule& granule = granules_[it->second];
  return granule.live != 0 &&
                 ptr - granule.address < granule_bytes_[granule.size_class]
             ? it->second
             : kNoGranule;
}

bool SlabOccupancy::ClearRangeForPin(uint32_t index, uint32_t c) {
  Granule& granule = granules_[index];
  if (granule.slack != nullptr) {  // its own entry, for its old class.
    ranges_.erase(granule.address);
    granule.slack = nullptr;
  }
  const uint64_t start = granule.address;
  const uint64_t bytes = granule_bytes_[c];
  // A range past the top of the address space overlaps by definition.
  if (bytes == 0 || start + bytes < start) return false;
  // Entries are drained small granules or pinned ones: forget the former,
  // refuse the latter.
  auto next = ranges_.lower_bound(start);
  while (next != ranges_.end() && next->first < start + bytes) {
    Granule& other = granules_[next->second];
    if (other.live != 0) return false;
    other.slack = nullptr;
    next = ranges_.erase(next);
  }
  if (next == ranges_.begin()) return true;
  const auto before = std::prev(next);
  Granule& other = granules_[before->second];
  if (start - other.address >= granule_bytes_[other.size_class]) return true;
  if (other.live != 0) return false;
  other.slack = nullptr;
  ranges_.erase(before);
  return true;
}

ABSL_ATTRIBUTE_NOINLINE bool SlabOccupancy::RegionPin(uint32_t index,
                                                      uint32_t c) {
  if (region_storage_.size() < granules_.size()) {
    region_storage_.resize(granules_.size());
  }
  RegionStorage& storage = region_storage_[index];
  const uint32_t nregs = nregs_[c];
  if (storage.capacity < nregs) {
    const size_t bytes = size_t{nregs} * sizeof(uint16_t);
    const size_t limit = std::max(
        kRegionBytesFloor, kRegionBytesPerLiveObject * (live_objects() + 1));
    if (region_bytes_ - storage.capacity * sizeof(uint16_t) + bytes > limit) {
      return false;
    }
    region_bytes_ -= storage.capacity * sizeof(uint16_t);
    storage.slack.reset(new uint16_t[nregs]);
    std::fill_n(storage.slack.get(), nregs, kEmptyRegion);
    storage.capacity = nregs;
    region_bytes_ += bytes;
  }
  Granule& granule = granules_[index];
  granule.slack = storage.slack.get();
  Pin(granule, c);  // the caller counts the object in.
  ranges_.emplace(granule.address, index);
  return true;
}

void SlabOccupancy::LeaveRegionMode() {
  if (!regions_) return;
  regions_ = false;
  live_.Reserve(std::max(reserved_live_objects_, live_.size() + region_live_));
  for (uint32_t i = 0; i < granules_.size(); ++i) {
    Granule& granule = granules_[i];
    if (granule.live != 0 && granule.size_class < nbins_ &&
        granule.slack != nullptr) {
      const uint32_t c = granule.size_class;
      for (uint32_t r = 0; r < nregs_[c]; ++r) {
        if (granule.slack[r] == kEmptyRegion) continue;
        *live_.Insert(granule.address + uint64_t{r} * class_size_[c]).first =
            Pack(i, c, granule.slack[r]);
      }
    }
    granule.slack = nullptr;
  }
  region_live_ = 0;
  region_storage_.clear();
  region_storage_.shrink_to_fit();
  region_bytes_ = 0;
  ranges_.clear();
}

void SlabOccupancy::EraseGranule(uint32_t index) {
  // A drained small granule may still have its entry in ranges_.
  if (granules_[index].slack != nullptr) {
    ranges_.erase(granules_[index].address);
  }
  granule_index_.Erase(granule_index_.Find(granules_[index].address));
  granules_[index] = Granule();
  free_granules_.push_back(index);
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
  for (const Granule& granule : granules_) {
    const uint32_t nregs = nregs_[granule.size_class];
    if (granule.live == 0 || nregs == 0) continue;
    const int bucket =
        std::min<uint64_t>(kHistogramBuckets - 1,
                           uint64_t{granule.live} * kHistogramBuckets / nregs);
    ++counts[granule.size_class].histogram[bucket];
  }

  const bool marker = reset == WindowReset::kSweepAndMarker;
  ++sweep_window_;
  if (marker) {
    ++marker_window_;
    stamps_of_earlier_class_.clear();  // every stamp in it is now stale.
  }
  for (uint32_t i = 0; i < granules_.size(); ++i) {
    Granule& granule = granules_[i];
    if (granule.address == 0) continue;
    if (granule.live == 0) {
      // Still needed only if the open marker window counted it as held: a
      // re-pin must not count it twice.
      if (marker || granule.marker_stamp != marker_window_) EraseGranule(i);
      continue;
    }
    granule.sweep_stamp = sweep_window_;
    if (marker) granule.marker_stamp = marker_window_;
  }
  for (ClassCounts& c : classes_) {
    c.held_since_sweep = c.pinned;
    if (marker) c.held_since_marker = c.pinned;
  }
  return counts;
}

std::vector<SlabOccupancy::GranuleFill> SlabOccupancy::PinnedGranules() const {
  std::vector<GranuleFill> pinned;
  for (const Granule& granule : granules_) {
    if (granule.live > 0) {
      pinned.push_back({granule.address, granule.size_class, granule.live});
    }
  }
  // Sorted, so table order never reaches a report.
  std::sort(pinned.begin(), pinned.end(),
            [](const GranuleFill& a, const GranuleFill& b) {
              return a.size_class != b.size_class ? a.size_class < b.size_class
                                                  : a.address < b.address;
            });
  return pinned;
}

size_t SlabOccupancy::table_bytes() const {
  // ranges_ is a B-tree of 12-byte entries: count about 16 bytes each.
  return live_.bytes() + region_bytes_ +
         region_storage_.capacity() * sizeof(RegionStorage) +
         ranges_.size() * 16 + large_requested_.bytes() +
         granule_index_.bytes() + granules_.capacity() * sizeof(Granule) +
         free_granules_.capacity() * sizeof(uint32_t) +
         granule_cache_.capacity() * sizeof(uint32_t);
}

}  // namespace slabtrace
