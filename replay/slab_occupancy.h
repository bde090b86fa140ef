// SlabOccupancy is the replay's state: which objects are live, which granule
// (slab or large extent) each one sits in, how many live objects every
// granule holds, and per size class the running totals a sweep reports.
//
// It applies events one at a time in O(1) and takes a sweep in O(granules
// it tracks), never O(objects). Memory is O(live objects + granules touched
// since the last marker window opened): drained granules are forgotten at
// the sweep that closes the marker window they were drained in.
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
#include <utility>
#include <vector>

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
  // grows past that. Results do not depend on it. The caller bounds `n`.
  void ReserveLiveObjects(size_t n) { live_.Reserve(n); }
  // Slots of the live-object table (tests: whether it had to grow).
  size_t live_table_capacity() const { return live_.capacity(); }

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
  size_t live_objects() const { return live_.size(); }
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
  };

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
  // Per size class, the index of the granule its last allocation went to
  // (kNoGranule if none): consecutive allocations of a class mostly fill
  // the same slab, so this skips the granule_index_ lookup. Only a hint:
  // used when granules_[index].address is the event's granule.
  // granules_[kNoGranule] is a permanent free entry (address 0, which no
  // event reaching AcquireGranule has: a granule 0 is rejected first), so
  // the hint needs no range check.
  static constexpr uint32_t kNoGranule = 0;
  std::vector<uint32_t> last_granule_;
  uint32_t sweep_window_ = 1;
  uint32_t marker_window_ = 1;
  std::array<uint64_t, kRecentFrees> recent_frees_ = {};
  size_t recent_next_ = 0;
  Validation validation_;
};

}  // namespace slabtrace

#endif  // SLABTRACE_REPLAY_SLAB_OCCUPANCY_H_
