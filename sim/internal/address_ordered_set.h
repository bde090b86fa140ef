// AddressOrderedSlabs is the index first-fit style policies share: the
// partially filled slabs (0 < fill < capacity) of each size class, ordered
// by (address, index). A policy forwards its fill notifications here and
// asks for the lowest one.

#ifndef SLABTRACE_SIM_INTERNAL_ADDRESS_ORDERED_SLABS_H_
#define SLABTRACE_SIM_INTERNAL_ADDRESS_ORDERED_SLABS_H_

#include <cstdint>
#include <utility>

#include "absl/container/btree_set.h"
#include "sim/placement_policy.h"
#include "sim/slab_table.h"

namespace slabtrace {
namespace sim_internal {

inline bool Partial(uint32_t fill, uint32_t capacity) {
  return fill > 0 && fill < capacity;
}

class AddressOrderedSet {
 public:
  void Update(const SlabTable& slabs, uint32_t slab, uint32_t old_fill) {
    const bool was = Partial(old_fill, slabs.capacity());
    const bool is = Partial(slabs.fill(slab), slabs.capacity());
    if (was == is) return;
    if (is) {
      set_.insert({slabs.address(slab), slab});
    } else {
      set_.erase({slabs.address(slab), slab});
    }
  }
  void Remove(const SlabTable& slabs, uint32_t slab) {
    set_.erase({slabs.address(slab), slab});
  }
  bool empty() const { return set_.empty(); }
  // The lowest-address partial slab, or SlabChoice::kNewSlab.
  uint32_t Lowest() const {
    return set_.empty() ? SlabChoice::kNewSlab : set_.begin()->second;
  }

 private:
  absl::btree_set<std::pair<uint64_t, uint32_t>> set_;
};

}  // namespace sim_internal
}  // namespace slabtrace

#endif  // SLABTRACE_SIM_INTERNAL_ADDRESS_ORDERED_SLABS_H_
