#include "sim/policies/recorded.h"

#include <memory>

#include "sim/policy_registry.h"

namespace slabtrace {

SlabChoice RecordedPolicy::Place(const ObjectEvent& event,
                                 const SlabTable& slabs) {
  SlabChoice choice;
  choice.region = event.recorded_region;
  auto it = slab_at_.find({slabs.size_class(), event.recorded_slab});
  if (it != slab_at_.end()) {
    choice.slab = it->second;
  } else {
    choice.new_slab_address = event.recorded_slab;
  }
  return choice;
}

void RecordedPolicy::OnSlabCreated(const SlabTable& slabs, uint32_t slab) {
  slab_at_[{slabs.size_class(), slabs.address(slab)}] = slab;
}

void RecordedPolicy::OnSlabReleased(const SlabTable& slabs, uint32_t slab) {
  auto it = slab_at_.find({slabs.size_class(), slabs.address(slab)});
  if (it != slab_at_.end() && it->second == slab) slab_at_.erase(it);
}

absl::StatusOr<std::unique_ptr<PlacementPolicy>> MakeRecordedPolicy(
    const PolicyContext&) {
  return std::make_unique<RecordedPolicy>();
}

}  // namespace slabtrace
