// compact: what moving objects could reach (Redis active defrag, Mesh). It
// keeps the recorded placement and, at each sweep, reports the packing bound
// (perfect compaction) in place of its own slabs, plus a meshing estimate
// over the recorded slabs (see sim/internal/meshing.h).

#include <memory>

#include "sim/internal/meshing.h"
#include "sim/policies/recorded.h"
#include "sim/policy_registry.h"
#include "sim/simulated_allocator.h"

namespace slabtrace {
namespace {

class CompactPolicy : public RecordedPolicy {
 public:
  void OnSweep(const SimulatedAllocator& allocator,
               SweepExtras* extras) override {
    extras->reports_packing_bound = true;
    extras->meshed_slabs = 0;
    extras->meshed_bytes = 0;
    const SimGeometry& geometry = allocator.geometry();
    for (int c = 0; c < geometry.num_classes(); ++c) {
      const SlabTable& slabs = allocator.slabs(c);
      if (slabs.live_slabs() == 0) continue;
      const uint64_t physical = geometry.is_small(c)
                                    ? sim_internal::MeshedSlabCount(slabs)
                                    : slabs.live_slabs();
      if (geometry.is_small(c)) extras->meshed_slabs += physical;
      extras->meshed_bytes += physical * slabs.granule_bytes();
    }
  }
};

}  // namespace

absl::StatusOr<std::unique_ptr<PlacementPolicy>> MakeCompactPolicy(
    const PolicyContext&) {
  return std::make_unique<CompactPolicy>();
}

}  // namespace slabtrace
