// oracle: clairvoyant placement, the bound for any policy that does not move
// objects. A first streaming pass (DeathIndex) learns when every object is
// freed; the placement pass then puts objects with close death times in the
// same slabs.
//
// "Close" is relative to now: an object dying d events from now falls in
// bucket (level = floor(log2 d), death >> level), so objects dying soon are
// grouped finely and far-future deaths coarsely. Each (class, bucket) has
// one open slab that takes objects until it is full; objects never freed
// share their own slabs.

#include <cstdint>
#include <memory>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "sim/internal/death_index.h"
#include "sim/policy_registry.h"

namespace slabtrace {
namespace {

using sim_internal::DeathIndex;

class OraclePolicy : public PlacementPolicy {
 public:
  OraclePolicy(int num_classes, DeathIndex deaths)
      : deaths_(std::move(deaths)), key_of_(num_classes) {}

  SlabChoice Place(const ObjectEvent& event, const SlabTable& slabs) override {
    const Key key = BucketOf(slabs.size_class(), DeathOf(event), event.seq);
    SlabChoice choice;
    auto it = open_.find(key);
    if (it != open_.end() && !slabs.full(it->second)) {
      choice.slab = it->second;
    } else {
      pending_key_ = key;
    }
    return choice;
  }
  uint64_t LargeAddress(const ObjectEvent& event) override {
    DeathOf(event);  // keeps the allocation count in step.
    return 0;
  }
  void OnSlabCreated(const SlabTable& slabs, uint32_t slab) override {
    std::vector<Key>& key_of = key_of_[slabs.size_class()];
    if (key_of.size() <= slab) key_of.resize(slab + 1);
    key_of[slab] = pending_key_;
    open_[pending_key_] = slab;
  }
  void OnSlabReleased(const SlabTable& slabs, uint32_t slab) override {
    auto it = open_.find(key_of_[slabs.size_class()][slab]);
    if (it != open_.end() && it->second == slab) open_.erase(it);
  }

 private:
  // (class, level, death >> level); level 64 = never freed.
  using Key = std::tuple<uint32_t, uint32_t, uint64_t>;

  uint64_t DeathOf(const ObjectEvent& event) {
    if (event.kind != ObjectEvent::Kind::kAlloc) {
      return deaths_.DeathOfResized(event.object_id);
    }
    if (event.seq != last_alloc_seq_ || ordinal_ == 0) {
      last_alloc_seq_ = event.seq;
      ++ordinal_;
    }
    return deaths_.DeathOfAllocation(ordinal_ - 1, event.seq);
  }
  static Key BucketOf(uint32_t size_class, uint64_t death, uint64_t now) {
    if (death == DeathIndex::kNever) return {size_class, 64, 0};
    const uint64_t distance = death > now ? death - now : 1;
    const uint32_t level = 63 - __builtin_clzll(distance);
    return {size_class, level, death >> level};
  }

  DeathIndex deaths_;
  uint64_t ordinal_ = 0;
  uint64_t last_alloc_seq_ = 0;
  Key pending_key_;
  std::vector<std::vector<Key>> key_of_;  // [class][slab].
  absl::flat_hash_map<Key, uint32_t> open_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<PlacementPolicy>> MakeOraclePolicy(
    const PolicyContext& context) {
  if (!context.open_stream) {
    return absl::FailedPreconditionError("oracle needs a stream to pre-scan");
  }
  absl::StatusOr<std::unique_ptr<ObjectStream>> stream = context.open_stream();
  if (!stream.ok()) return stream.status();
  absl::StatusOr<DeathIndex> deaths = DeathIndex::Build(**stream);
  if (!deaths.ok()) {
    return absl::Status(
        deaths.status().code(),
        absl::StrCat("oracle pre-pass: ", deaths.status().message()));
  }
  return std::make_unique<OraclePolicy>(context.geometry->num_classes(),
                                        *std::move(deaths));
}

}  // namespace slabtrace
