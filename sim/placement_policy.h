// PlacementPolicy is the small interface every what-if policy implements.
// The simulated allocator owns the slabs (creation, release when empty,
// region bitmaps); a policy only decides, for each allocation of a small
// size class, which existing non-full slab of that class it goes to (or that
// a new slab is needed) and, optionally, which region. The allocator tells
// the policy every change it must know to keep its own index up to date:
// slab created, fill changed, slab released. All notifications come from
// the one thread running the simulation.
//
// Large classes (one object per granule) never ask Place() and send no
// notifications: every large allocation gets its own granule; a policy may
// only choose its address (LargeAddress).
//
// See sim/README.md for a complete example policy.

#ifndef SLABTRACE_SIM_PLACEMENT_POLICY_H_
#define SLABTRACE_SIM_PLACEMENT_POLICY_H_

#include <cstdint>

#include "replay/object_stream.h"
#include "sim/slab_table.h"

namespace slabtrace {

class SimulatedAllocator;

struct SlabChoice {
  static constexpr uint32_t kNewSlab = ~uint32_t{0};
  static constexpr uint32_t kLowestFreeRegion = ~uint32_t{0};

  // An existing live, non-full slab of the class, or kNewSlab.
  uint32_t slab = kNewSlab;
  // A free region of that slab, or kLowestFreeRegion.
  uint32_t region = kLowestFreeRegion;
  // kNewSlab only: its address; 0 lets the allocator assign the lowest
  // unused address of the class.
  uint64_t new_slab_address = 0;
};

// What a policy may add to a sweep (compact reports the packing bound in
// place of its placement, and a meshing estimate).
struct SweepExtras {
  bool reports_packing_bound = false;
  uint64_t meshed_slabs = 0;
  uint64_t meshed_bytes = 0;
};

class PlacementPolicy {
 public:
  virtual ~PlacementPolicy() = default;

  // Where a new region of `slabs.size_class()` goes. `event` is the
  // allocation (or resize, or for a thread-cache fill the allocation that
  // triggered it): its thread, time and recorded placement are available.
  virtual SlabChoice Place(const ObjectEvent& event,
                           const SlabTable& slabs) = 0;

  // The address of a new large granule for `event`; 0 = allocator's choice.
  virtual uint64_t LargeAddress(const ObjectEvent& event) { return 0; }

  // `slab` was just created (every region free, fill 0).
  virtual void OnSlabCreated(const SlabTable& slabs, uint32_t slab) {}
  // `slab`'s fill changed from old_fill and it is still live.
  virtual void OnFillChanged(const SlabTable& slabs, uint32_t slab,
                             uint32_t old_fill) {}
  // `slab` became empty and is released now; its index may be reused.
  virtual void OnSlabReleased(const SlabTable& slabs, uint32_t slab) {}
  // A region was given back (object freed, or flushed from a thread cache
  // when `event` is null). Called before the matching OnFillChanged or
  // OnSlabReleased.
  virtual void OnFree(const ObjectEvent* event, const SlabTable& slabs,
                      uint32_t slab, uint32_t region) {}
  // A marker passed (temporal epochs). marker.marker may be null.
  virtual void OnMarker(const ObjectEvent& marker) {}
  // Called at each sweep, after the allocator's counts are final.
  virtual void OnSweep(const SimulatedAllocator& allocator,
                       SweepExtras* extras) {}
};

}  // namespace slabtrace

#endif  // SLABTRACE_SIM_PLACEMENT_POLICY_H_
