// SlabOccupancy is the replay's state: which objects are live, which granule
// (slab or large extent) each one sits in, how many live objects every
// granule holds, and per size class the running totals a sweep reports.
//
// It applies events one at a time in O(1) (amortized; O(log granules)
// when a slab is pinned afresh or an event does not name its object's
// granule) and takes a sweep in O(granules it tracks), never O(objects).
// Memory is O(live objects + granules touched since the last marker window
// opened): drained granules are forgotten at the sweep that closes the
// marker window they were drained in; small objects' region arrays take at
// most max(256 KiB, 32 bytes per live object at its peak) (see "Two
// representations" below).
//
// DSR windows (DESIGN.md: "of the granules that held a live object at some
// instant in the window, the fraction that hold none at t1") are tracked
// with stamps. Two windows run at once: since the previous sweep, and since
// the previous marker. When a window opens every pinned granule is stamped
// with the window's id; a granule going from 0 to 1 live objects during the
// window is stamped then, once. `held` is the number of stamped granules;
// at a sweep, drained = held - pinned.
//
// A granule address reused by another size class after it drained counts as
// a new granule (the old one stays counted as drained). A large extent
// resized in place to another class moves, with its window stamps, to the
// new class.
//
// Bad traces are handled deterministically and reported, never fatal: see
// the Inconsistency kinds in proto/report.proto. An allocation at address 0
// (a failed malloc) and a free of 0 are no-ops.
//
// Not thread-safe.

#ifndef SLABTRACE_REPLAY_SLAB_OCCUPANCY_H_
#define SLABTRACE_REPLAY_SLAB_OCCUPANCY_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/types/span.h"
#include "proto/event.h"
#include "proto/report.pb.h"
#include "proto/slab_geometry.h"
#include "replay/internal/address_map.h"

namespace slabtrace {

// Number of occupancy histogram buckets (tenths of nregs).
inline constexpr int kHistogramBuckets = 10;

// The counts one size class has at a sweep; everything else a report says
// (bytes, footprint, packing bound, DSR) follows from these and the class's
// geometry.
struct ClassCounts {
  uint64_t live_objects = 0;
  uint64_t requested_bytes = 0;
  uint64_t pinned = 0;             // granules of this class holding >= 1.
  uint64_t held_since_sweep = 0;   // DSR denominators; numerator is
  uint64_t held_since_marker = 0;  // held - pinned.
  std::array<uint64_t, kHistogramBuckets> histogram = {};  // small only.
};

// Which DSR windows a sweep closes (and reopens).
enum class WindowReset { kSweepOnly, kSweepAndMarker };

class SlabOccupancy {
 public:
  // At most this many inconsistencies are kept with their details.
  static constexpr int kMaxInconsistencyDetails = 100;
  // A free of a non-live pointer that is among the last this-many freed
  // pointers is a double free; any other is an unknown free.
  static constexpr int kRecentFrees = 1024;

  explicit SlabOccupancy(const SlabGeometry& geometry);

  SlabOccupancy(const SlabOccupancy&) = delete;
  SlabOccupancy& operator=(const SlabOccupancy&) = delete;

  // Sizes the live-object table for `n` objects up front (e.g. the trace
  // trailer's max_live_objects), sparing its growth from empty; it still
  // grows past that. While the small objects sit in region arrays (see
  // "Two representations" below) the table holds only large objects, and
  // the reservation waits until they move to it. Results do not depend on
  // it. The caller bounds `n`.
  void ReserveLiveObjects(size_t n);
  size_t reserved_live_objects() const { return reserved_live_objects_; }
  // Slots of the live-object table (tests: whether it had to grow).
  size_t live_table_capacity() const { return live_.capacity(); }
  // Whether small objects are still in region arrays (see "Two
  // representations" below).
  bool uses_region_arrays() const { return regions_; }
  // Moves every object into the live-object table for good, as the first
  // irregular event would. Results do not change (tests compare the two).
  void UseLiveTableOnly() { LeaveRegionMode(); }

  // Applies one event; `event_index` is its position in the stream, for
  // inconsistency reports. Uses event.slab as the granule.
  void Apply(const Event& event, uint64_t event_index);
  // Applies a run of events, the first at `first_index`. Same result as
  // calling Apply() on each; faster (prefetches hash slots ahead).
  void ApplyAll(absl::Span<const Event> events, uint64_t first_index);

  // Counts per size class (indexed by class) at this instant, with the
  // histogram filled in. Then closes the windows `reset` names and opens new
  // ones, and forgets drained granules no open window needs.
  std::vector<ClassCounts> Sweep(WindowReset reset);

  // Running totals without a sweep (cheap; no histogram).
  const ClassCounts& class_counts(uint32_t size_class) const {
    return classes_[size_class];
  }
  size_t live_objects() const { return live_.size() + region_live_; }
  // One pinned granule, for the report's slab maps.
  struct GranuleFill {
    uint64_t address = 0;
    uint32_t size_class = 0;
    uint32_t live = 0;
  };
  // Every tracked granule holding >= 1 live object, ordered by (size class,
  // address). O(granules log granules): for reports at markers, not for the
  // event path.
  std::vector<GranuleFill> PinnedGranules() const;
  size_t tracked_granules() const { return granule_index_.size(); }
  // Heap bytes held by its tables and granule array.
  size_t table_bytes() const;
  const Validation& validation() const { return validation_; }
  const SlabGeometry& geometry() const { return geometry_; }

 private:
  // A live object is 8 bytes of value in live_: the granule's index into
  // granules_ (low 32 bits), the size class (16), and the slack, class size
  // minus requested size (top 16). A slack that does not fit (large
  // classes) is kSlackElsewhere and the requested size is in
  // large_requested_.
  static constexpr uint64_t kSlackElsewhere = 0xFFFF;
  struct Granule {
    uint64_t address = 0;  // 0: a free entry of granules_.
    uint32_t live = 0;
    uint32_t size_class = 0;
    uint32_t sweep_stamp = 0;  // window ids; 0 = never stamped.
    uint32_t marker_stamp = 0;
    // Region mode, a pinned small granule: its region array (nregs slacks,
    // kEmptyRegion where no object is live), owned by region_storage_.
    uint16_t* slack = nullptr;
  };

  // Two representations. The live-object table (live_) can answer "what
  // is live at this address" for any trace, however inconsistent, but a
  // probe of it costs about 14 ns per event on the Redis traces (branchy
  // probe and erase loops over a table larger than L2). So while the trace
  // stays regular, small objects live instead in their slab's region
  // array, reached through the granule the event names: an alloc or free
  // touches the granule cache, the granule and one 2-byte slot. This is
  // exact because of two invariants, kept while in region mode:
  //  - every live small object sits at a region start of its slab, in a
  //    pinned granule of its own class (large objects stay in live_, one
  //    per pinned large granule);
  //  - pinned granules, as address ranges [address, address +
  //    granule_bytes), never overlap (checked in ranges_ at every pin).
  // So the live object at `ptr`, if any, is in the one pinned granule
  // whose range holds ptr. The first event that would break an invariant
  // (a class conflict, an overlap, an overfull slab, an alloc at a live
  // address, a resize that moves or changes a small object's class) or
  // region arrays outgrowing their memory bound first moves every small
  // object into live_ (LeaveRegionMode) and is then applied there, as are
  // all later events: results are the same either way, only the speed
  // differs.
  static constexpr uint16_t kEmptyRegion = 0xFFFF;
  // Region arrays may take this many bytes whatever the live count, and
  // beyond that at most kRegionBytesPerLiveObject per live object (checked
  // when one is allocated), or the replay leaves region mode.
  static constexpr size_t kRegionBytesFloor = size_t{256} << 10;
  static constexpr size_t kRegionBytesPerLiveObject = 32;
  // (offset * reciprocal) >> kReciprocalShift == offset / class size for
  // every offset below a slab size, with reciprocal = 2^40 / size + 1:
  // exact while slab size * class size < 2^40, which the constructor checks
  // for every small class before choosing region mode. offset * reciprocal
  // stays below 2^57 because SlabGeometry caps regions per slab at 65,536
  // (and RegionIn multiplies back, so a wrong quotient would only miss).
  static constexpr int kReciprocalShift = 40;

  // The event path. Apply() and ApplyAll() share ApplyOne(), inlined; the
  // common case of each kind stays inline and every rare case (bad events,
  // a granule's first object, large requested sizes) is an out-of-line
  // call, so the per-event code is short and its branches predictable.
  void ApplyOne(const Event& event, uint64_t event_index);
  void Alloc(const Event& event, uint64_t event_index);
  void Free(const Event& event, uint64_t event_index);
  void Resize(const Event& event, uint64_t event_index);
  void AllocAtLiveAddress(const Event& event, uint64_t event_index,
                          uint64_t old_value);
  void FreeOfNonLive(const Event& event, uint64_t event_index);
  // Packs a new object's value, recording its requested size.
  uint64_t Admit(uint64_t ptr, uint32_t size_class, uint64_t size,
                 uint32_t granule);
  uint64_t AdmitElsewhere(uint64_t ptr, uint32_t size_class, uint64_t size,
                          uint32_t granule);
  // Removes a live object from every count; returns its requested size.
  uint64_t Forget(uint64_t ptr, uint64_t value);
  uint64_t TakeRequestedElsewhere(uint64_t ptr);
  uint32_t AcquireGranule(uint64_t address, uint32_t size_class,
                          const Event& event, uint64_t event_index);
  // granule_index_ lookup, adding the granule if new.
  uint32_t FindOrAddGranule(uint64_t address, uint32_t size_class);
  // A granule's 0 -> 1 live transition: class change, pinned, stamps.
  void Pin(Granule& granule, uint32_t size_class);
  void ReleaseGranule(uint32_t index);
  void EraseGranule(uint32_t index);
  // Moves a sole-occupant granule, and its window membership, to a class.
  void Reclass(Granule& granule, uint32_t size_class);
  bool RecentlyFreed(uint64_t ptr) const;

  // Region mode. Each returns false when the event has to be applied in
  // hash mode (LeaveRegionMode first), having changed nothing that counts
  // (it may have added the event's granule, as hash mode would, or
  // dropped drained granules' entries from ranges_).
  bool RegionApplyOne(const Event& event, uint64_t event_index);
  bool RegionAlloc(const Event& event, uint64_t event_index);
  bool RegionFree(const Event& event, uint64_t event_index);
  bool RegionAllocSlow(const Event& event, uint32_t index, uint32_t region);
  void RegionAdmit(Granule& granule, uint32_t c, uint32_t region,
                   uint64_t size);
  bool RegionAllocLarge(const Event& event, uint64_t event_index);
  bool RegionFreeSlow(const Event& event, uint64_t event_index);
  bool RegionResize(const Event& event, uint64_t event_index);
  // The region of `ptr` in a small granule of class `c` at `address`, or
  // false if ptr does not start one.
  bool RegionIn(uint64_t address, uint32_t c, uint64_t ptr,
                uint32_t* region) const {
    const uint64_t offset = ptr - address;  // wraps if ptr < address.
    if (offset >= slab_size_[c]) return false;
    *region =
        static_cast<uint32_t>((offset * reciprocal_[c]) >> kReciprocalShift);
    return uint64_t{*region} * class_size_[c] == offset;
  }
  // The pinned granule whose range holds ptr, or kNoGranule.
  uint32_t PinnedGranuleHolding(uint64_t ptr) const;
  // Makes room in ranges_ for granule `index` as class `c` (its own old
  // entry and drained ones in the way go); false if a pinned granule
  // overlaps that range.
  bool ClearRangeForPin(uint32_t index, uint32_t c);
  // Pins a small granule in region mode (stamps, ranges_, region array);
  // false, with nothing changed, if its region array would break the
  // memory bound.
  bool RegionPin(uint32_t index, uint32_t c);
  // A granule's last object went (region mode, large: also leaves ranges_).
  void Drained(Granule& granule);
  // Removes the live object of region `region` of granule `index`.
  void RegionRemove(uint32_t index, uint32_t region, uint64_t ptr);
  void LeaveRegionMode();
  void Report(Inconsistency::Kind kind, const Event& event,
              uint64_t event_index);

  SlabGeometry geometry_;
  AddressMap live_;
  AddressMap large_requested_;
  AddressMap granule_index_;  // granule address -> index into granules_.
  // A granule is (size class, address). When a drained address comes back
  // as another class, the window stamps of the class it leaves are kept
  // here, so that returning to that class in the same window does not count
  // it as held twice. Cleared when the marker window closes.
  absl::flat_hash_map<std::pair<uint64_t, uint32_t>,
                      std::pair<uint32_t, uint32_t>>
      stamps_of_earlier_class_;
  std::vector<Granule> granules_;
  std::vector<uint32_t> free_granules_;
  std::vector<ClassCounts> classes_;
  const uint32_t num_classes_;        // classes_.size(), without a division.
  std::vector<uint64_t> class_size_;  // cached geometry for the hot path.
  std::vector<uint32_t> nregs_;
  std::vector<uint64_t> slab_size_;   // 0 for large classes.
  std::vector<uint64_t> reciprocal_;  // see kReciprocalShift.
  std::vector<uint64_t> granule_bytes_;
  const uint32_t nbins_;
  // Region mode (see "Two representations").
  bool regions_ = false;
  size_t region_live_ = 0;  // live objects in region arrays.
  size_t reserved_live_objects_ = 0;
  // Granules by address, for the overlap check at a pin and for events
  // that do not name their object's granule: every pinned one, and the
  // drained small ones not yet in the way of another (their region array,
  // Granule::slack, still set), so that re-pinning a slab, the common pin,
  // needs no B-tree work. Entries never overlap.
  absl::btree_map<uint64_t, uint32_t> ranges_;
  // Per granules_ index, its region array's storage (all kEmptyRegion
  // while the granule is not pinned) and capacity, kept for reuse.
  struct RegionStorage {
    std::unique_ptr<uint16_t[]> slack;
    uint32_t capacity = 0;
  };
  std::vector<RegionStorage> region_storage_;
  size_t region_bytes_ = 0;
  // A direct-mapped cache in front of granule_index_: slot
  // GranuleCacheSlot(address) holds the index of the granule last looked up
  // at an address hashing there (kNoGranule if none). Only a hint: used
  // when granules_[index].address is the event's granule, so a stale entry
  // (a granule erased, its entry reused) costs a lookup, never a wrong
  // answer. It replaced a per-class last-granule hint, which missed on 24 %
  // to 56 % of the Redis traces' allocations (a class fills several slabs
  // at once), each miss a mispredicted branch and a granule_index_ probe;
  // this misses only on collisions. Kept at least kGranuleCacheRatio
  // entries per tracked granule (4 bytes each). granules_[kNoGranule] is a
  // permanent free entry (address 0, which no event reaching
  // AcquireGranule has: a granule 0 is rejected first), so a hit needs no
  // range check.
  static constexpr uint32_t kNoGranule = 0;
  static constexpr size_t kMinGranuleCache = 1024;
  static constexpr size_t kGranuleCacheRatio = 8;
  size_t GranuleCacheSlot(uint64_t address) const {
    // Fibonacci hashing of a page-aligned address: its top bits.
    return static_cast<size_t>((address * 0x9E3779B97F4A7C15ull) >>
                               granule_cache_shift_);
  }
  void GrowGranuleCache();
  std::vector<uint32_t> granule_cache_;
  int granule_cache_shift_ = 64;
  uint32_t sweep_window_ = 1;
  uint32_t marker_window_ = 1;
  std::array<uint64_t, kRecentFrees> recent_frees_ = {};
  size_t recent_next_ = 0;
  Validation validation_;
};

}  // namespace slabtrace

#endif  // SLABTRACE_REPLAY_SLAB_OCCUPANCY_H_
