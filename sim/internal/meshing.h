// The meshing estimate of the compact policy: how many physical slabs a
// class's slabs would need if, as Mesh does, two slabs whose live regions
// do not overlap could share one physical slab.
//
// Greedy and deterministic: slabs in address order; each unpaired slab is
// paired with the first later unpaired slab (among the next kMeshProbes
// candidates, Mesh also bounds its search) whose occupied-region bitmap is
// disjoint from its own. Only pairs are formed (no three-way meshes), so the
// estimate is at least half the live slabs.

#ifndef SLABTRACE_SIM_INTERNAL_MESHING_H_
#define SLABTRACE_SIM_INTERNAL_MESHING_H_

#include <cstdint>

#include "sim/slab_table.h"

namespace slabtrace {
namespace sim_internal {

inline constexpr int kMeshProbes = 64;

// Live slabs of `slabs` after greedy pairing.
uint64_t MeshedSlabCount(const SlabTable& slabs);

}  // namespace sim_internal
}  // namespace slabtrace

#endif  // SLABTRACE_SIM_INTERNAL_MESHING_H_
