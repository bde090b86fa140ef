// RecordedPolicy places every object exactly where the trace says jemalloc
// put it (recorded slab address and region). It is the reference the other
// policies are compared with; compact builds on it.

#ifndef SLABTRACE_SIM_POLICIES_RECORDED_H_
#define SLABTRACE_SIM_POLICIES_RECORDED_H_

#include <cstdint>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "sim/placement_policy.h"

namespace slabtrace {

class RecordedPolicy : public PlacementPolicy {
 public:
  SlabChoice Place(const ObjectEvent& event, const SlabTable& slabs) override;
  uint64_t LargeAddress(const ObjectEvent& event) override {
    return event.recorded_slab;
  }
  void OnSlabCreated(const SlabTable& slabs, uint32_t slab) override;
  void OnSlabReleased(const SlabTable& slabs, uint32_t slab) override;

 private:
  // (class, recorded address) -> live slab index.
  absl::flat_hash_map<std::pair<uint32_t, uint64_t>, uint32_t> slab_at_;
};

}  // namespace slabtrace

#endif  // SLABTRACE_SIM_POLICIES_RECORDED_H_
