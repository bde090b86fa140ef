#include "sim/internal/death_index.h"

#include "absl/strings/str_cat.h"

namespace slabtrace {
namespace sim_internal {

absl::StatusOr<DeathIndex> DeathIndex::Build(ObjectStream& stream) {
  DeathIndex index;
  // Live object id -> its allocation ordinal, and whether it resized.
  struct Live {
    uint64_t ordinal;
    uint64_t alloc_seq;
    bool resized;
  };
  absl::flat_hash_map<uint64_t, Live> live;
  ObjectEvent event;
  while (true) {
    absl::StatusOr<bool> more = stream.Next(&event);
    if (!more.ok()) return more.status();
    if (!*more) break;
    switch (event.kind) {
      case ObjectEvent::Kind::kAlloc:
        live[event.object_id] =
            Live{index.distance_.size(), event.seq, false};
        index.distance_.push_back(kNeverDistance);
        break;
      case ObjectEvent::Kind::kResize: {
        auto it = live.find(event.object_id);
        if (it != live.end() && event.size_class != event.old_size_class) {
          it->second.resized = true;
          index.resized_[event.object_id] = kNever;
        }
        break;
      }
      case ObjectEvent::Kind::kFree: {
        auto it = live.find(event.object_id);
        if (it == live.end()) {
          return absl::InvalidArgumentError(
              absl::StrCat("event seq ", event.seq, ": free of object ",
                           event.object_id, " that is not live"));
        }
        const uint64_t distance = event.seq - it->second.alloc_seq;
        if (distance >= kFarDistance) {
          index.distance_[it->second.ordinal] = kFarDistance;
          index.far_[it->second.ordinal] = event.seq;
        } else {
          index.distance_[it->second.ordinal] =
              static_cast<uint32_t>(distance);
        }
        if (it->second.resized) index.resized_[event.object_id] = event.seq;
        live.erase(it);
        break;
      }
      case ObjectEvent::Kind::kMarker:
        break;
    }
  }
  index.distance_.shrink_to_fit();
  return index;
}

uint64_t DeathIndex::DeathOfAllocation(uint64_t ordinal,
                                       uint64_t alloc_seq) const {
  if (ordinal >= distance_.size()) return kNever;
  const uint32_t distance = distance_[ordinal];
  if (distance == kNeverDistance) return kNever;
  if (distance == kFarDistance) return far_.at(ordinal);
  return alloc_seq + distance;
}

uint64_t DeathIndex::DeathOfResized(uint64_t object_id) const {
  auto it = resized_.find(object_id);
  return it == resized_.end() ? kNever : it->second;
}

size_t DeathIndex::memory_bytes() const {
  return distance_.capacity() * sizeof(uint32_t) +
         (far_.capacity() + resized_.capacity()) * 24;
}

}  // namespace sim_internal
}  // namespace slabtrace
