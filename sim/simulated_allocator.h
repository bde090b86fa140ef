// SimulatedAllocator replays a logical alloc/free stream (ObjectStream)
// against simulated slabs: it owns the slabs of every size class (using a
// SimGeometry), asks a PlacementPolicy where each small allocation goes,
// releases a slab the moment it holds nothing, and keeps the running totals
// a sweep reports (pinned granules, footprint and its peak, live objects and
// bytes, the packing bound, granules held in the current DSR window).
//
// Promises:
//  - Deterministic: the same events, geometry and policy give the same
//    slabs, addresses and counts. Addresses the allocator assigns are the
//    lowest unused ones of the class in a private range (bit 62 set), so
//    they never collide with real recorded addresses.
//  - Application-level live objects and bytes do not depend on the policy.
//  - With the thread-cache model on, freed regions first go to a per-thread
//    cache and keep pinning their slab ("allocator-level occupancy");
//    cached_regions() counts them. See sim/README.md for the model.
//  - Granule identity for DSR windows is (size class, address), as in the
//    replay: a slab released and re-created at the same address within one
//    window is held once.
//
// Not thread-safe; one allocator per simulation thread.

#ifndef SLABTRACE_SIM_SIMULATED_ALLOCATOR_H_
#define SLABTRACE_SIM_SIMULATED_ALLOCATOR_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "replay/object_stream.h"
#include "sim/internal/object_table.h"
#include "sim/placement_policy.h"
#include "sim/sim_geometry.h"
#include "sim/slab_table.h"

namespace slabtrace {

struct ThreadCacheOptions {
  bool enabled = false;
  // Per size class capacity of one thread's cache (TraceHeader
  // tcache_ncached_max); classes with 0 (or past the end) are not cached.
  std::vector<uint32_t> ncached_max;
  // A thread runs one GC step after this many bytes allocated + freed
  // (jemalloc's opt.tcache_gc_incr_bytes default).
  uint64_t gc_incr_bytes = 65536;
};

struct ClassCounters {
  uint64_t live_objects = 0;
  // Granules that held a region at some instant since OpenWindow().
  uint64_t held = 0;
};

class SimulatedAllocator {
 public:
  // `policy` must outlive the allocator.
  SimulatedAllocator(const SimGeometry& geometry, PlacementPolicy* policy,
                     ThreadCacheOptions tcache = {});
  ~SimulatedAllocator();

  SimulatedAllocator(const SimulatedAllocator&) = delete;
  SimulatedAllocator& operator=(const SimulatedAllocator&) = delete;

  // Applies one stream item. Errors (an event naming an object that is not
  // live, a class outside the geometry, a policy choosing a dead slab) name
  // the event's seq.
  absl::Status Apply(const ObjectEvent& event);

  // A hint that `event` will be applied soon (see ObjectTable::Prefetch):
  // allocations, frees and resizes all touch the object's slot.
  void Prefetch(const ObjectEvent& event) const {
    if (event.kind != ObjectEvent::Kind::kMarker) {
      objects_.Prefetch(event.object_id);
    }
  }

  // Starts a new DSR window: every pinned granule counts as held.
  void OpenWindow();

  const SimGeometry& geometry() const { return geometry_; }
  const SlabTable& slabs(uint32_t size_class) const {
    return *tables_[size_class];
  }
  const ClassCounters& counters(uint32_t size_class) const {
    return counters_[size_class];
  }
  uint64_t footprint_bytes() const { return footprint_bytes_; }
  uint64_t peak_footprint_bytes() const { return peak_footprint_bytes_; }
  uint64_t live_objects() const { return live_objects_; }
  uint64_t live_bytes() const { return live_bytes_; }
  // Sum over classes of ceil(live / capacity) * granule bytes.
  uint64_t packing_bound_bytes() const { return packing_bound_bytes_; }
  uint64_t peak_packing_bound_bytes() const {
    return peak_packing_bound_bytes_;
  }
  uint64_t cached_regions() const { return cached_regions_; }

  // Where a live object sits; false if it is not live.
  struct Location {
    uint32_t size_class = 0;
    uint32_t slab = 0;  // index in slabs(size_class).
    uint64_t address = 0;
    uint32_t region = 0;
  };
  bool Locate(uint64_t object_id, Location* location) const;
  uint64_t placement_conflicts() const { return placement_conflicts_; }

 private:
  struct Placement {
    uint32_t size_class;
    uint32_t slab;
    uint32_t region;
  };
  struct CacheBin;
  struct ThreadCache;

  absl::Status Allocate(const ObjectEvent& event);
  absl::Status Free(const ObjectEvent& event);
  absl::Status Resize(const ObjectEvent& event);

  // Takes one region of `size_class` for `event` from the slabs.
  absl::StatusOr<Placement> AcquireRegion(const ObjectEvent& event,
                                          uint32_t size_class);
  void ReleaseRegion(const ObjectEvent* event, const Placement& placement);
  uint32_t CreateSlab(SlabTable& table, uint64_t address);

  absl::StatusOr<Placement> AllocateThroughCache(const ObjectEvent& event,
                                                 uint32_t size_class);
  void FreeThroughCache(const ObjectEvent& event, const Placement& placement);
  void FlushOldest(CacheBin& bin, size_t count);
  void CountCacheTraffic(uint32_t thread, uint64_t bytes);
  bool Cached(uint32_t size_class) const;
  ThreadCache& CacheOf(uint32_t thread);

  void AddLive(uint32_t size_class);
  void RemoveLive(uint32_t size_class);

  static uint64_t Pack(const Placement& p) {
    return uint64_t{p.slab} | uint64_t{p.region} << 32 |
           uint64_t{p.size_class} << 48;
  }
  static Placement Unpack(uint64_t v) {
    return Placement{static_cast<uint32_t>(v >> 48),
                     static_cast<uint32_t>(v & 0xffffffff),
                     static_cast<uint32_t>((v >> 32) & 0xffff)};
  }

  const SimGeometry& geometry_;
  PlacementPolicy* policy_;
  ThreadCacheOptions tcache_;
  std::vector<std::unique_ptr<SlabTable>> tables_;
  std::vector<ClassCounters> counters_;
  sim_internal::ObjectTable objects_;  // id -> Pack().
  // Granules released since the window opened. Addresses the allocator
  // assigned map one-to-one to a slab index of their class
  // (PrivateIndex), so they are kept densely: released_window_[c][index]
  // is the window (window_ + 1) in which (c, address) was last released.
  // Every other (class, address) goes to the hash set, which is cleared
  // when a window opens.
  // `slab` is the index the granule has (had) at `address`: a hint that
  // spares a division when the address is that slab's private one.
  bool TakeReleased(uint32_t size_class, uint64_t address, uint32_t slab);
  void MarkReleased(uint32_t size_class, uint64_t address, uint32_t slab);
  static uint64_t PrivateAddress(uint32_t size_class, uint32_t index,
                                 uint64_t granule_bytes);
  // The index whose PrivateAddress is `address`, or -1.
  int64_t PrivateIndex(uint32_t size_class, uint64_t address,
                       uint32_t slab) const;
  uint64_t window_ = 0;
  std::vector<std::vector<uint64_t>> released_window_;  // [class][index].
  absl::flat_hash_set<std::pair<uint32_t, uint64_t>> released_in_window_;
  absl::flat_hash_map<uint32_t, std::unique_ptr<ThreadCache>> caches_;
  uint64_t next_object_id_ = 0;
  uint64_t next_serial_ = 1;
  uint64_t footprint_bytes_ = 0;
  uint64_t peak_footprint_bytes_ = 0;
  uint64_t live_objects_ = 0;
  uint64_t live_bytes_ = 0;
  uint64_t packing_bound_bytes_ = 0;
  uint64_t peak_packing_bound_bytes_ = 0;
  uint64_t cached_regions_ = 0;
  uint64_t placement_conflicts_ = 0;
};

}  // namespace slabtrace

#endif  // SLABTRACE_SIM_SIMULATED_ALLOCATOR_H_
