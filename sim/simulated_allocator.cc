#include "sim/simulated_allocator.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace slabtrace {
namespace {

// Addresses the allocator assigns: bit 62 set (no user-space pointer has
// it), the size class in bits 48..61, then index * granule bytes.
constexpr uint64_t kPrivateBase = uint64_t{1} << 62;

absl::Status EventError(const ObjectEvent& event, absl::string_view reason) {
  return absl::InvalidArgumentError(
      absl::StrCat("event seq ", event.seq, ": ", reason));
}

}  // namespace

// One thread's cache for one size class: a stack of regions. back() is
// handed out next; front() is the oldest, flushed first.
struct SimulatedAllocator::CacheBin {
  std::vector<uint64_t> regions;  // Pack()ed placements.
  uint32_t ncached_max = 0;
  uint32_t low_water = 0;  // fewest cached since this bin's last GC step.
  uint8_t lg_fill_div = 1;
  bool refilled = false;
};

struct SimulatedAllocator::ThreadCache {
  std::vector<CacheBin> bins;  // by size class.
  uint64_t bytes_since_gc = 0;
  uint32_t next_gc_bin = 0;
};

SimulatedAllocator::SimulatedAllocator(const SimGeometry& geometry,
                                       PlacementPolicy* policy,
                                       ThreadCacheOptions tcache)
    : geometry_(geometry), policy_(policy), tcache_(std::move(tcache)) {
  tables_.reserve(geometry.num_classes());
  for (int c = 0; c < geometry.num_classes(); ++c) {
    tables_.push_back(std::make_unique<SlabTable>(c, geometry.capacity(c),
                                                  geometry.granule_bytes(c)));
  }
  counters_.resize(geometry.num_classes());
  released_window_.resize(geometry.num_classes());
}

SimulatedAllocator::~SimulatedAllocator() = default;

absl::Status SimulatedAllocator::Apply(const ObjectEvent& event) {
  switch (event.kind) {
    case ObjectEvent::Kind::kAlloc:
      return Allocate(event);
    case ObjectEvent::Kind::kFree:
      return Free(event);
    case ObjectEvent::Kind::kResize:
      return Resize(event);
    case ObjectEvent::Kind::kMarker:
      policy_->OnMarker(event);
      return absl::OkStatus();
  }
  return EventError(event, "unknown event kind");
}

bool SimulatedAllocator::Locate(uint64_t object_id, Location* location) const {
  uint64_t packed;
  if (!objects_.Find(object_id, &packed)) return false;
  const Placement p = Unpack(packed);
  location->size_class = p.size_class;
  location->slab = p.slab;
  location->address = tables_[p.size_class]->address(p.slab);
  location->region = p.region;
  return true;
}

uint64_t SimulatedAllocator::PrivateAddress(uint32_t size_class, uint32_t index,
                                            uint64_t granule_bytes) {
  return kPrivateBase | uint64_t{size_class} << 48 |
         uint64_t{index} * granule_bytes;
}

int64_t SimulatedAllocator::PrivateIndex(uint32_t size_class, uint64_t address,
                                         uint32_t slab) const {
  // A function of (class, address) alone, so that a granule is kept in one
  // place whoever asks: offsets below 2^48 that are a multiple of the
  // granule (where PrivateAddress's OR is an addition, hence one-to-one).
  if ((address & kPrivateBase) == 0) return -1;  // every recorded address.
  const uint64_t granule = tables_[size_class]->granule_bytes();
  const uint64_t base = PrivateAddress(size_class, 0, granule);
  if (granule == 0 || address < base) return -1;
  const uint64_t offset = address - base;
  if (offset >= uint64_t{1} << 48) return -1;
  // The common case, without a division: the slab's own private address.
  uint64_t slab_offset;
  if (!__builtin_mul_overflow(uint64_t{slab}, granule, &slab_offset) &&
      slab_offset == offset) {
    return slab;
  }
  if (offset % granule != 0 || offset / granule > UINT32_MAX) return -1;
  return static_cast<int64_t>(offset / granule);
}

bool SimulatedAllocator::TakeReleased(uint32_t size_class, uint64_t address,
                                      uint32_t slab) {
  const int64_t index = PrivateIndex(size_class, address, slab);
  bool released = false;
  std::vector<uint64_t>& stamps = released_window_[size_class];
  if (index >= 0 && static_cast<uint64_t>(index) < stamps.size() &&
      stamps[index] == window_ + 1) {
    stamps[index] = 0;
    released = true;
  }
  // A private-looking address can also sit in the set (see MarkReleased).
  if (index < 0 || !released_in_window_.empty()) {
    released |= released_in_window_.erase({size_class, address}) > 0;
  }
  return released;
}

void SimulatedAllocator::MarkReleased(uint32_t size_class, uint64_t address,
                                      uint32_t slab) {
  const int64_t index = PrivateIndex(size_class, address, slab);
  // Dense only for indices the table has used, so a corrupt recorded
  // address that looks private cannot make the stamps huge.
  if (index < 0 || index >= tables_[size_class]->index_limit()) {
    released_in_window_.insert({size_class, address});
    return;
  }
  std::vector<uint64_t>& stamps = released_window_[size_class];
  if (static_cast<uint64_t>(index) >= stamps.size()) {
    stamps.resize(tables_[size_class]->index_limit(), 0);
  }
  stamps[index] = window_ + 1;
}

void SimulatedAllocator::OpenWindow() {
  ++window_;  // forgets every stamp of the previous window.
  released_in_window_.clear();
  for (size_t c = 0; c < tables_.size(); ++c) {
    counters_[c].held = tables_[c]->live_slabs();
  }
}

absl::Status SimulatedAllocator::Allocate(const ObjectEvent& event) {
  const uint32_t c = event.size_class;
  if (c >= tables_.size()) {
    return EventError(event, absl::StrCat("size class ", c,
                                          " is not in the "
                                          "trace's size-class table"));
  }
  // Object ids are allocation seqs: strictly increasing, hence unique.
  if (event.object_id < next_object_id_) {
    return EventError(event, absl::StrCat("object id ", event.object_id,
                                          " is not above the previous "
                                          "allocation's"));
  }
  next_object_id_ = event.object_id + 1;
  absl::StatusOr<Placement> placement =
      Cached(c) ? AllocateThroughCache(event, c) : AcquireRegion(event, c);
  if (!placement.ok()) return placement.status();
  objects_.Insert(event.object_id, Pack(*placement));
  AddLive(c);
  return absl::OkStatus();
}

absl::Status SimulatedAllocator::Free(const ObjectEvent& event) {
  uint64_t packed;
  if (!objects_.Take(event.object_id, &packed)) {
    return EventError(event, absl::StrCat("free of object ", event.object_id,
                                          " that is not live"));
  }
  const Placement placement = Unpack(packed);
  RemoveLive(placement.size_class);
  if (Cached(placement.size_class)) {
    FreeThroughCache(event, placement);
  } else {
    ReleaseRegion(&event, placement);
  }
  return absl::OkStatus();
}

absl::Status SimulatedAllocator::Resize(const ObjectEvent& event) {
  uint64_t packed;
  if (!objects_.Find(event.object_id, &packed)) {
    return EventError(event, absl::StrCat("resize of object ", event.object_id,
                                          " that is not live"));
  }
  const Placement old = Unpack(packed);
  const uint32_t c = event.size_class;
  if (c == old.size_class) return absl::OkStatus();
  if (c >= tables_.size()) {
    return EventError(event, absl::StrCat("size class ", c,
                                          " is not in the "
                                          "trace's size-class table"));
  }
  // An in-place resize across classes (large extents growing or shrinking)
  // leaves the old granule and takes one of the new class, bypassing any
  // thread cache as jemalloc does.
  const bool old_large = !geometry_.is_small(old.size_class);
  const uint64_t old_address = tables_[old.size_class]->address(old.slab);
  RemoveLive(old.size_class);
  ReleaseRegion(&event, old);
  // A large extent resized in place is the same granule under a new class
  // (as the replay's Reclass has it): it moves its "held in this window"
  // to the new class instead of counting as one drained and one new.
  if (old_large && TakeReleased(old.size_class, old_address, old.slab)) {
    --counters_[old.size_class].held;
  }
  absl::StatusOr<Placement> placement = AcquireRegion(event, c);
  if (!placement.ok()) return placement.status();
  objects_.Update(event.object_id, Pack(*placement));
  AddLive(c);
  return absl::OkStatus();
}

void SimulatedAllocator::AddLive(uint32_t size_class) {
  const uint64_t live = ++counters_[size_class].live_objects;
  ++live_objects_;
  live_bytes_ += geometry_.region_size(size_class);
  if ((live - 1) % geometry_.capacity(size_class) == 0) {
    packing_bound_bytes_ += geometry_.granule_bytes(size_class);
    peak_packing_bound_bytes_ =
        std::max(peak_packing_bound_bytes_, packing_bound_bytes_);
  }
}

void SimulatedAllocator::RemoveLive(uint32_t size_class) {
  const uint64_t live = --counters_[size_class].live_objects;
  --live_objects_;
  live_bytes_ -= geometry_.region_size(size_class);
  if (live % geometry_.capacity(size_class) == 0) {
    packing_bound_bytes_ -= geometry_.granule_bytes(size_class);
  }
}

uint32_t SimulatedAllocator::CreateSlab(SlabTable& table, uint64_t address) {
  const uint32_t slab = table.Create(address, next_serial_++);
  const uint32_t c = table.size_class();
  if (address == 0) {
    table.slabs_[slab].address = PrivateAddress(c, slab, table.granule_bytes());
  }
  if (!TakeReleased(c, table.address(slab), slab)) {
    ++counters_[c].held;
  }
  footprint_bytes_ += table.granule_bytes();
  peak_footprint_bytes_ = std::max(peak_footprint_bytes_, footprint_bytes_);
  if (geometry_.is_small(c)) {
    policy_->OnSlabCreated(table, slab);
  }
  return slab;
}

absl::StatusOr<SimulatedAllocator::Placement> SimulatedAllocator::AcquireRegion(
    const ObjectEvent& event, uint32_t size_class) {
  SlabTable& table = *tables_[size_class];
  if (!geometry_.is_small(size_class)) {
    const uint32_t slab = CreateSlab(table, policy_->LargeAddress(event));
    table.Take(slab, 0);
    return Placement{size_class, slab, 0};
  }
  const SlabChoice choice = policy_->Place(event, table);
  uint32_t slab = choice.slab;
  uint32_t region = choice.region;
  bool conflict = false;
  if (slab == SlabChoice::kNewSlab) {
    slab = CreateSlab(table, choice.new_slab_address);
  } else if (!table.live(slab)) {
    return absl::InternalError(
        absl::StrCat("event seq ", event.seq, ": policy chose slab ", slab,
                     " of class ", size_class, ", which is not live"));
  } else if (table.full(slab)) {
    conflict = true;
    slab = CreateSlab(table, 0);
  }
  if (region != SlabChoice::kLowestFreeRegion &&
      (region >= table.capacity() || !table.region_free(slab, region))) {
    conflict = true;
    region = SlabChoice::kLowestFreeRegion;
  }
  if (region == SlabChoice::kLowestFreeRegion) {
    region = table.LowestFreeRegion(slab);
  }
  placement_conflicts_ += conflict;
  const uint32_t old_fill = table.fill(slab);
  table.Take(slab, region);
  policy_->OnFillChanged(table, slab, old_fill);
  return Placement{size_class, slab, region};
}

void SimulatedAllocator::ReleaseRegion(const ObjectEvent* event,
                                       const Placement& placement) {
  SlabTable& table = *tables_[placement.size_class];
  const bool small = geometry_.is_small(placement.size_class);
  const uint32_t old_fill = table.fill(placement.slab);
  table.Give(placement.slab, placement.region);
  if (small) policy_->OnFree(event, table, placement.slab, placement.region);
  if (table.fill(placement.slab) != 0) {
    policy_->OnFillChanged(table, placement.slab, old_fill);
    return;
  }
  if (small) policy_->OnSlabReleased(table, placement.slab);
  MarkReleased(placement.size_class, table.address(placement.slab),
               placement.slab);
  footprint_bytes_ -= table.granule_bytes();
  table.Release(placement.slab);
}

// ---------------------------------------------------------------------------
// Thread-cache model (see sim/README.md, "The jemalloc model").

bool SimulatedAllocator::Cached(uint32_t size_class) const {
  return tcache_.enabled && geometry_.is_small(size_class) &&
         size_class < tcache_.ncached_max.size() &&
         tcache_.ncached_max[size_class] > 0;
}

SimulatedAllocator::ThreadCache& SimulatedAllocator::CacheOf(uint32_t thread) {
  std::unique_ptr<ThreadCache>& cache = caches_[thread];
  if (cache == nullptr) {
    cache = std::make_unique<ThreadCache>();
    cache->bins.resize(tables_.size());
    for (size_t c = 0; c < tables_.size(); ++c) {
      if (Cached(c)) cache->bins[c].ncached_max = tcache_.ncached_max[c];
    }
  }
  return *cache;
}

absl::StatusOr<SimulatedAllocator::Placement>
SimulatedAllocator::AllocateThroughCache(const ObjectEvent& event,
                                         uint32_t size_class) {
  CacheBin& bin = CacheOf(event.thread).bins[size_class];
  if (bin.regions.empty()) {
    // Fill: ncached_max >> lg_fill_div regions through the bin logic, the
    // first one taken handed out first.
    const uint32_t count = std::max(1u, bin.ncached_max >> bin.lg_fill_div);
    std::vector<uint64_t> filled;
    filled.reserve(count);
    for (uint32_t i = 0; i < count; ++i) {
      absl::StatusOr<Placement> placement = AcquireRegion(event, size_class);
      if (!placement.ok()) return placement.status();
      filled.push_back(Pack(*placement));
    }
    bin.regions.assign(filled.rbegin(), filled.rend());
    cached_regions_ += count;
    bin.refilled = true;
  }
  const Placement placement = Unpack(bin.regions.back());
  bin.regions.pop_back();
  --cached_regions_;
  bin.low_water =
      std::min(bin.low_water, static_cast<uint32_t>(bin.regions.size()));
  CountCacheTraffic(event.thread, geometry_.region_size(size_class));
  return placement;
}

void SimulatedAllocator::FreeThroughCache(const ObjectEvent& event,
                                          const Placement& placement) {
  CacheBin& bin = CacheOf(event.thread).bins[placement.size_class];
  if (bin.regions.size() >= bin.ncached_max) {
    FlushOldest(bin, bin.regions.size() - bin.ncached_max / 2);
  }
  bin.regions.push_back(Pack(placement));
  ++cached_regions_;
  CountCacheTraffic(event.thread, geometry_.region_size(placement.size_class));
}

void SimulatedAllocator::FlushOldest(CacheBin& bin, size_t count) {
  count = std::min(count, bin.regions.size());
  for (size_t i = 0; i < count; ++i) {
    ReleaseRegion(nullptr, Unpack(bin.regions[i]));
  }
  bin.regions.erase(bin.regions.begin(), bin.regions.begin() + count);
  cached_regions_ -= count;
}

// jemalloc's incremental GC, approximated: every gc_incr_bytes of a
// thread's traffic, one bin (round robin over size classes) flushes 3/4 of
// the regions that sat unused since its last step (its low-water mark) and
// adapts how much the next fill takes.
void SimulatedAllocator::CountCacheTraffic(uint32_t thread, uint64_t bytes) {
  ThreadCache& cache = CacheOf(thread);
  cache.bytes_since_gc += bytes;
  if (cache.bytes_since_gc < tcache_.gc_incr_bytes) return;
  cache.bytes_since_gc = 0;
  for (size_t tries = 0; tries < cache.bins.size(); ++tries) {
    CacheBin& bin = cache.bins[cache.next_gc_bin];
    cache.next_gc_bin = (cache.next_gc_bin + 1) % cache.bins.size();
    if (bin.ncached_max == 0) continue;
    if (bin.low_water > 0) {
      FlushOldest(bin, bin.low_water - bin.low_water / 4);
      if ((bin.ncached_max >> (bin.lg_fill_div + 1)) >= 1) ++bin.lg_fill_div;
    } else if (bin.refilled && bin.lg_fill_div > 1) {
      --bin.lg_fill_div;
    }
    bin.refilled = false;
    bin.low_water = static_cast<uint32_t>(bin.regions.size());
    break;
  }
}

}  // namespace slabtrace
