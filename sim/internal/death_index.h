// DeathIndex is the oracle's knowledge of the future: for every allocation
// of a stream, the seq of the event that frees it (or "never"). It is built
// by one streaming pass (Build) and then read in allocation order during
// the simulation pass.
//
// Memory: 4 bytes per allocation (free seq - alloc seq; the rare distance
// of 2^32 or more goes to a side map) plus, while building, an ObjectTable
// of the objects live at the same time; objects that change size class in
// place (resize) keep an entry keyed by object id. Object ids are the
// allocating event's seq (replay/object_stream.h), which the distance uses.

#ifndef SLABTRACE_SIM_INTERNAL_DEATH_INDEX_H_
#define SLABTRACE_SIM_INTERNAL_DEATH_INDEX_H_

#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "replay/object_stream.h"

namespace slabtrace {
namespace sim_internal {

class DeathIndex {
 public:
  static constexpr uint64_t kNever = ~uint64_t{0};

  static absl::StatusOr<DeathIndex> Build(ObjectStream& stream);

  // The free seq of the `ordinal`-th allocation (0-based, stream order),
  // which happened at `alloc_seq`.
  // Inline: the oracle asks once per allocation.
  uint64_t DeathOfAllocation(uint64_t ordinal, uint64_t alloc_seq) const {
    if (ordinal >= distance_.size()) return kNever;
    const uint32_t distance = distance_[ordinal];
    if (distance == kNeverDistance) return kNever;
    if (distance == kFarDistance) return far_.at(ordinal);
    return alloc_seq + distance;
  }
  // For objects that resized across classes: their free seq, or kNever.
  uint64_t DeathOfResized(uint64_t object_id) const;

  uint64_t allocations() const { return distance_.size(); }
  size_t memory_bytes() const;

 private:
  static constexpr uint32_t kNeverDistance = ~uint32_t{0};
  static constexpr uint32_t kFarDistance = kNeverDistance - 1;

  std::vector<uint32_t> distance_;                   // by allocation ordinal.
  absl::flat_hash_map<uint64_t, uint64_t> far_;      // ordinal -> death.
  absl::flat_hash_map<uint64_t, uint64_t> resized_;  // id -> death.
};

}  // namespace sim_internal
}  // namespace slabtrace

#endif  // SLABTRACE_SIM_INTERNAL_DEATH_INDEX_H_
