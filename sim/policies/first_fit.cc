// first-fit: every allocation goes to the lowest-address slab of its class
// that has a free region; a new slab only when all are full.

#include <memory>
#include <vector>

#include "sim/internal/address_ordered_set.h"
#include "sim/policy_registry.h"

namespace slabtrace {
namespace {

class FirstFitPolicy : public PlacementPolicy {
 public:
  explicit FirstFitPolicy(int num_classes) : partial_(num_classes) {}

  SlabChoice Place(const ObjectEvent&, const SlabTable& slabs) override {
    SlabChoice choice;
    choice.slab = partial_[slabs.size_class()].Lowest();
    return choice;
  }
  void OnFillChanged(const SlabTable& slabs, uint32_t slab,
                     uint32_t old_fill) override {
    partial_[slabs.size_class()].Update(slabs, slab, old_fill);
  }
  void OnSlabReleased(const SlabTable& slabs, uint32_t slab) override {
    partial_[slabs.size_class()].Remove(slabs, slab);
  }

 private:
  std::vector<sim_internal::AddressOrderedSet> partial_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<PlacementPolicy>> MakeFirstFitPolicy(
    const PolicyContext& context) {
  return std::make_unique<FirstFitPolicy>(context.geometry->num_classes());
}

}  // namespace slabtrace
