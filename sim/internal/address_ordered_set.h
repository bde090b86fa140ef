// AddressOrderedSet is the index first-fit style policies share: the
// partially filled slabs (0 < fill < capacity) of one size class, lowest
// address first. A policy forwards its fill notifications here and asks for
// the lowest one. It relies on allocator-assigned addresses (index order is
// address order; see IndexSet), so policies placing at explicit addresses
// cannot use it.

#ifndef SLABTRACE_SIM_INTERNAL_ADDRESS_ORDERED_SLABS_H_
#define SLABTRACE_SIM_INTERNAL_ADDRESS_ORDERED_SLABS_H_

#include <cstdint>

#include "sim/internal/index_set.h"
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
      set_.Insert(slab);
    } else {
      set_.Erase(slab);
    }
  }
  void Remove(const SlabTable&, uint32_t slab) { set_.Erase(slab); }
  bool empty() const { return set_.empty(); }
  // The lowest-address partial slab, or SlabChoice::kNewSlab.
  uint32_t Lowest() const {
    static_assert(IndexSet::kNone == SlabChoice::kNewSlab);
    return set_.First();
  }

 private:
  IndexSet set_;
};

}  // namespace sim_internal
}  // namespace slabtrace

#endif  // SLABTRACE_SIM_INTERNAL_ADDRESS_ORDERED_SLABS_H_
