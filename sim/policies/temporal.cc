// temporal: objects allocated in the same epoch share slabs (the
// temporal-slab idea: data born together tends to die together). An epoch
// is the phase between two markers, or with --epoch-ms a fixed window of
// trace time. Within an epoch, first-fit among that epoch's slabs; a slab
// never takes objects of a later epoch, even once it has room again.

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "absl/container/node_hash_map.h"
#include "sim/internal/address_ordered_set.h"
#include "sim/policy_registry.h"

namespace slabtrace {
namespace {

class TemporalPolicy : public PlacementPolicy {
 public:
  TemporalPolicy(int num_classes, uint64_t epoch_ns)
      : epoch_ns_(epoch_ns), epoch_of_(num_classes), cache_(num_classes) {}

  SlabChoice Place(const ObjectEvent& event, const SlabTable& slabs) override {
    const uint64_t epoch =
        epoch_ns_ == 0 ? markers_seen_ : event.time_ns / epoch_ns_;
    SlabChoice choice;
    const sim_internal::AddressOrderedSet* partial =
        Find(slabs.size_class(), epoch);
    if (partial != nullptr) choice.slab = partial->Lowest();
    if (choice.slab == SlabChoice::kNewSlab) pending_epoch_ = epoch;
    return choice;
  }
  void OnMarker(const ObjectEvent&) override { ++markers_seen_; }
  void OnSlabCreated(const SlabTable& slabs, uint32_t slab) override {
    std::vector<uint64_t>& epoch_of = epoch_of_[slabs.size_class()];
    if (epoch_of.size() <= slab) epoch_of.resize(slab + 1);
    epoch_of[slab] = pending_epoch_;
  }
  void OnFillChanged(const SlabTable& slabs, uint32_t slab,
                     uint32_t old_fill) override {
    // Most fill changes keep the slab partial (or full): nothing to do,
    // and no hash lookup for it.
    if (sim_internal::Partial(old_fill, slabs.capacity()) ==
        sim_internal::Partial(slabs.fill(slab), slabs.capacity())) {
      return;
    }
    const Key key = KeyOf(slabs, slab);
    auto [it, inserted] = partial_.try_emplace(key);
    if (inserted) Forget(key);
    it->second.Update(slabs, slab, old_fill);
    if (it->second.empty()) Erase(it);
  }
  void OnSlabReleased(const SlabTable& slabs, uint32_t slab) override {
    auto it = partial_.find(KeyOf(slabs, slab));
    if (it == partial_.end()) return;
    it->second.Remove(slabs, slab);
    if (it->second.empty()) Erase(it);
  }

 private:
  using Key = std::pair<uint32_t, uint64_t>;  // (class, epoch).
  using Map = absl::node_hash_map<Key, sim_internal::AddressOrderedSet>;
  Key KeyOf(const SlabTable& slabs, uint32_t slab) const {
    return {slabs.size_class(), epoch_of_[slabs.size_class()][slab]};
  }

  // The partial slabs of (class, epoch), or null. Every allocation asks for
  // its class's current epoch, so the last answer per class is kept (node
  // pointers are stable) until that key is inserted or erased.
  struct Cached {
    bool valid = false;
    uint64_t epoch = 0;
    const sim_internal::AddressOrderedSet* partial = nullptr;
  };
  const sim_internal::AddressOrderedSet* Find(uint32_t size_class,
                                              uint64_t epoch) {
    Cached& cached = cache_[size_class];
    if (!cached.valid || cached.epoch != epoch) {
      auto it = partial_.find(Key{size_class, epoch});
      cached.valid = true;
      cached.epoch = epoch;
      cached.partial = it == partial_.end() ? nullptr : &it->second;
    }
    return cached.partial;
  }
  void Forget(const Key& key) {
    Cached& cached = cache_[key.first];
    if (cached.epoch == key.second) cached.valid = false;
  }
  void Erase(Map::iterator it) {
    Forget(it->first);
    partial_.erase(it);
  }

  uint64_t epoch_ns_;
  uint64_t markers_seen_ = 0;
  uint64_t pending_epoch_ = 0;
  std::vector<std::vector<uint64_t>> epoch_of_;  // [class][slab].
  Map partial_;
  std::vector<Cached> cache_;  // [class].
};

}  // namespace

absl::StatusOr<std::unique_ptr<PlacementPolicy>> MakeTemporalPolicy(
    const PolicyContext& context) {
  return std::make_unique<TemporalPolicy>(context.geometry->num_classes(),
                                          context.epoch_ms * 1000000);
}

}  // namespace slabtrace
