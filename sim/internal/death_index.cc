#include "sim/internal/death_index.h"

#include <cstddef>

#include "absl/strings/str_cat.h"
#include "sim/internal/object_table.h"

namespace slabtrace {
namespace sim_internal {

absl::StatusOr<DeathIndex> DeathIndex::Build(ObjectStream& stream) {
  DeathIndex index;
  // Live object id (= its allocation seq) -> allocation ordinal, with
  // kResizedBit set once it changed class in place.
  constexpr uint64_t kResizedBit = uint64_t{1} << 63;
  ObjectTable live;
  // The stream is read kLookahead events ahead and each event's table slot
  // prefetched, so the cache misses of the random frees overlap. A read
  // error is returned once the events before it are applied, as without
  // the read-ahead (their own errors come first).
  constexpr size_t kLookahead = 16;
  ObjectEvent ring[kLookahead];
  size_t head = 0, buffered = 0;
  absl::Status read_error;
  bool at_end = false;
  while (true) {
    while (!at_end && buffered < kLookahead) {
      ObjectEvent& slot = ring[(head + buffered) % kLookahead];
      absl::StatusOr<bool> more = stream.Next(&slot);
      if (!more.ok()) read_error = more.status();
      if (!more.ok() || !*more) {
        at_end = true;
        break;
      }
      if (slot.kind != ObjectEvent::Kind::kMarker) {
        live.Prefetch(slot.object_id);
      }
      ++buffered;
    }
    if (buffered == 0) break;
    const ObjectEvent& event = ring[head];
    head = (head + 1) % kLookahead;
    --buffered;
    switch (event.kind) {
      case ObjectEvent::Kind::kAlloc:
        live.Insert(event.object_id, index.distance_.size());
        index.distance_.push_back(kNeverDistance);
        break;
      case ObjectEvent::Kind::kResize: {
        uint64_t value;
        if (live.Find(event.object_id, &value) &&
            event.size_class != event.old_size_class) {
          live.Update(event.object_id, value | kResizedBit);
          index.resized_[event.object_id] = kNever;
        }
        break;
      }
      case ObjectEvent::Kind::kFree: {
        uint64_t value;
        if (!live.Take(event.object_id, &value)) {
          return absl::InvalidArgumentError(
              absl::StrCat("event seq ", event.seq, ": free of object ",
                           event.object_id, " that is not live"));
        }
        const uint64_t ordinal = value & ~kResizedBit;
        const uint64_t distance = event.seq - event.object_id;
        if (distance >= kFarDistance) {
          index.distance_[ordinal] = kFarDistance;
          index.far_[ordinal] = event.seq;
        } else {
          index.distance_[ordinal] = static_cast<uint32_t>(distance);
        }
        if (value & kResizedBit) index.resized_[event.object_id] = event.seq;
        break;
      }
      case ObjectEvent::Kind::kMarker:
        break;
    }
  }
  if (!read_error.ok()) return read_error;
  index.distance_.shrink_to_fit();
  return index;
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
