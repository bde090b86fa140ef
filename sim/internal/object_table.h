// ObjectTable maps live object ids to a 64-bit value (the simulator's packed
// placement). It is on the hot path of every event, so it is one flat
// open-addressing table: 16-byte slots (id, value), Fibonacci hashing of the
// id, linear probing, deletion by backward shift (no tombstones), at most
// half full. Every operation touches one slot, usually one cache line,
// which Prefetch() can start loading: the simulation reads the stream ahead
// and prefetches, so random frees of old objects overlap their misses
// instead of adding up. (A two-level "recent array + hash map" design paid
// up to three misses per free of an old object and one unprefetchable miss
// per allocation.) Memory: 32 to 64 bytes per live object.

#ifndef SLABTRACE_SIM_INTERNAL_OBJECT_TABLE_H_
#define SLABTRACE_SIM_INTERNAL_OBJECT_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace slabtrace {
namespace sim_internal {

// Starts loading the cache line at `p`. GCC 12 drops __builtin_prefetch
// from the simulation's read-ahead loop (measured: no prefetch instruction
// in simulation.o), so on x86-64 the instruction is spelled out.
inline void PrefetchLine(const void* p) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p)));
#else
  __builtin_prefetch(p);
#endif
}

class ObjectTable {
 public:
  ObjectTable() { Rehash(kMinLgCapacity); }

  // `id` must not be present.
  void Insert(uint64_t id, uint64_t value) {
    if (id == kEmpty) {
      // The one id the slots cannot hold (only a corrupt trace has it).
      has_max_id_ = true;
      max_id_value_ = value;
      ++size_;
      return;
    }
    if (slots_size_ >= (mask_ + 1) / 2) Rehash(lg_capacity_ + 1);
    size_t i = Home(id);
    while (slots_[i].id != kEmpty) i = (i + 1) & mask_;
    slots_[i] = Slot{id, value};
    ++slots_size_;
    ++size_;
  }
  // The value of `id`, or false.
  bool Find(uint64_t id, uint64_t* value) const {
    if (id == kEmpty) {
      *value = max_id_value_;
      return has_max_id_;
    }
    const size_t i = IndexOf(id);
    if (i == kNotFound) return false;
    *value = slots_[i].value;
    return true;
  }
  // Replaces the value of a present id (no-op when absent).
  void Update(uint64_t id, uint64_t value) {
    if (id == kEmpty) {
      if (has_max_id_) max_id_value_ = value;
      return;
    }
    const size_t i = IndexOf(id);
    if (i != kNotFound) slots_[i].value = value;
  }
  // Removes `id` and returns its value, or false.
  bool Take(uint64_t id, uint64_t* value) {
    if (id == kEmpty) {
      if (!has_max_id_) return false;
      *value = max_id_value_;
      has_max_id_ = false;
      --size_;
      return true;
    }
    size_t i = IndexOf(id);
    if (i == kNotFound) return false;
    *value = slots_[i].value;
    --slots_size_;
    --size_;
    // Backward-shift deletion: move later members of the probe run into
    // the hole when their home position allows it, so lookups never need
    // tombstones.
    size_t j = i;
    while (true) {
      j = (j + 1) & mask_;
      if (slots_[j].id == kEmpty) break;
      const size_t home = Home(slots_[j].id);
      // Moves unless its home lies cyclically in (i, j].
      if (((j - home) & mask_) >= ((j - i) & mask_)) {
        slots_[i] = slots_[j];
        i = j;
      }
    }
    slots_[i].id = kEmpty;
    return true;
  }
  uint64_t size() const { return size_; }

  // Starts loading the slot where `id` is (or would go): lets a caller that
  // reads the stream ahead overlap the cache misses of the coming events.
  void Prefetch(uint64_t id) const { PrefetchLine(&slots_[Home(id)]); }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  static constexpr size_t kNotFound = ~size_t{0};
  static constexpr int kMinLgCapacity = 10;
  struct Slot {
    uint64_t id = kEmpty;
    uint64_t value = 0;
  };

  size_t Home(uint64_t id) const {
    return static_cast<size_t>((id * 0x9E3779B97F4A7C15ull) >>
                               (64 - lg_capacity_));
  }
  size_t IndexOf(uint64_t id) const {
    for (size_t i = Home(id);; i = (i + 1) & mask_) {
      if (slots_[i].id == id) return i;  // id != kEmpty here.
      if (slots_[i].id == kEmpty) return kNotFound;
    }
  }
  void Rehash(int lg_capacity) {
    std::vector<Slot> old;
    old.swap(slots_);
    lg_capacity_ = lg_capacity;
    mask_ = (size_t{1} << lg_capacity) - 1;
    slots_.assign(mask_ + 1, Slot{});
    // Nearly sequential writes: the home is the top bits of the hash.
    for (const Slot& slot : old) {
      if (slot.id == kEmpty) continue;
      size_t i = Home(slot.id);
      while (slots_[i].id != kEmpty) i = (i + 1) & mask_;
      slots_[i] = slot;
    }
  }

  std::vector<Slot> slots_;
  int lg_capacity_ = 0;
  size_t mask_ = 0;
  uint64_t slots_size_ = 0;  // ids held in slots_.
  uint64_t size_ = 0;
  bool has_max_id_ = false;
  uint64_t max_id_value_ = 0;
};

}  // namespace sim_internal
}  // namespace slabtrace

#endif  // SLABTRACE_SIM_INTERNAL_OBJECT_TABLE_H_
