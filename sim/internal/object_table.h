// ObjectTable maps live object ids to a 64-bit value (the simulator's packed
// placement). Most objects die young, and ids are allocation seqs, so a
// direct-mapped array indexed by the id's low bits holds the recent ones
// without hashing; an entry displaced by a newer id moves to a hash map.
// Lookups hit the array for short-lived objects and cost one hash probe
// otherwise. Memory: 512 KiB for the array plus ~20 bytes per older object.

#ifndef SLABTRACE_SIM_INTERNAL_OBJECT_TABLE_H_
#define SLABTRACE_SIM_INTERNAL_OBJECT_TABLE_H_

#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace slabtrace {
namespace sim_internal {

class ObjectTable {
 public:
  ObjectTable() : recent_(kSlots) {}

  // `id` must not be present.
  void Insert(uint64_t id, uint64_t value) {
    Entry& entry = recent_[id & (kSlots - 1)];
    if (entry.id != kEmpty) older_.emplace(entry.id, entry.value);
    entry = Entry{id, value};
    ++size_;
  }
  // The value of `id`, or false.
  bool Find(uint64_t id, uint64_t* value) const {
    const Entry& entry = recent_[id & (kSlots - 1)];
    if (entry.id == id) {
      *value = entry.value;
      return true;
    }
    auto it = older_.find(id);
    if (it == older_.end()) return false;
    *value = it->second;
    return true;
  }
  // Replaces the value of a present id.
  void Update(uint64_t id, uint64_t value) {
    Entry& entry = recent_[id & (kSlots - 1)];
    if (entry.id == id) {
      entry.value = value;
    } else {
      older_[id] = value;
    }
  }
  // Removes `id` and returns its value, or false.
  bool Take(uint64_t id, uint64_t* value) {
    Entry& entry = recent_[id & (kSlots - 1)];
    if (entry.id == id) {
      *value = entry.value;
      entry.id = kEmpty;
      --size_;
      return true;
    }
    auto it = older_.find(id);
    if (it == older_.end()) return false;
    *value = it->second;
    older_.erase(it);
    --size_;
    return true;
  }
  uint64_t size() const { return size_; }

  // Starts loading what Find/Take(id) will touch; lets a caller that reads
  // the stream ahead overlap the cache misses of random frees.
  void Prefetch(uint64_t id) const {
    __builtin_prefetch(&recent_[id & (kSlots - 1)]);
    older_.prefetch(id);
  }

 private:
  static constexpr uint64_t kSlots = uint64_t{1} << 15;
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  struct Entry {
    uint64_t id = kEmpty;
    uint64_t value = 0;
  };

  std::vector<Entry> recent_;
  absl::flat_hash_map<uint64_t, uint64_t> older_;
  uint64_t size_ = 0;
};

}  // namespace sim_internal
}  // namespace slabtrace

#endif  // SLABTRACE_SIM_INTERNAL_OBJECT_TABLE_H_
