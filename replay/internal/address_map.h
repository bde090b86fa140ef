// AddressMap maps non-zero 64-bit keys (addresses) to 64-bit values in one
// flat array of 16-byte slots: linear probing from a multiplicative hash,
// deletion by backward shift (no tombstones), growth by doubling at 5/8
// load (short probe runs: an erase scans to the end of its run). A lookup
// touches one cache line in the common case, which is what the replay's hot
// path is bound by (absl's SwissTable touches a control byte and a slot: two
// misses once the table outgrows the caches).
//
// Key 0 marks an empty slot and cannot be stored. Pointers to values stay
// valid until the next Insert or Erase. Iteration order depends on the
// insertion history only (no seeds), but callers should not rely on it.

#ifndef SLABTRACE_REPLAY_INTERNAL_ADDRESS_MAP_H_
#define SLABTRACE_REPLAY_INTERNAL_ADDRESS_MAP_H_

#include <cstddef>
#include <cstdint>
#include <utility>

namespace slabtrace {

class AddressMap {
 public:
  AddressMap() { Allocate(kMinCapacity); }
  ~AddressMap() { Release(slots_, capacity_); }

  AddressMap(const AddressMap&) = delete;
  AddressMap& operator=(const AddressMap&) = delete;

  // The value of `key`, inserted as 0 if absent; second is true when new.
  std::pair<uint64_t*, bool> Insert(uint64_t key) {
    if (__builtin_expect(size_ >= grow_at_, 0)) Grow();
    size_t i = Home(key);
    while (slots_[i].key != 0) {
      if (slots_[i].key == key) return {&slots_[i].value, false};
      i = (i + 1) & mask_;
    }
    slots_[i] = Slot{key, 0};
    ++size_;
    return {&slots_[i].value, true};
  }

  // The value of `key`, or nullptr.
  uint64_t* Find(uint64_t key) {
    for (size_t i = Home(key); slots_[i].key != 0; i = (i + 1) & mask_) {
      if (slots_[i].key == key) return &slots_[i].value;
    }
    return nullptr;
  }

  // Erases the entry whose value `value` points to (from Find or Insert).
  void Erase(uint64_t* value) {
    // The slot holding `value`; its key precedes it.
    size_t hole = static_cast<size_t>(
        reinterpret_cast<Slot*>(reinterpret_cast<char*>(value) -
                                offsetof(Slot, value)) -
        slots_);
    // Backward shift: an entry later in the probe run moves into the hole
    // when the hole lies between its home and its slot, i.e. when it is at
    // least as far from its home as from the hole (cyclically).
    for (size_t j = (hole + 1) & mask_; slots_[j].key != 0;
         j = (j + 1) & mask_) {
      if (((j - Home(slots_[j].key)) & mask_) >= ((j - hole) & mask_)) {
        slots_[hole] = slots_[j];
        hole = j;
      }
    }
    slots_[hole] = Slot{0, 0};
    --size_;
  }

  // Makes room for `n` entries without growing (and without the growths'
  // copying: on an empty table it allocates the final size at once). Never
  // shrinks. The caller bounds `n`: the table takes 16 bytes per slot for
  // at least 8/5 slots per entry.
  void Reserve(size_t n);

  // Brings the home slot of `key` towards the cache.
  void Prefetch(uint64_t key) const { __builtin_prefetch(&slots_[Home(key)]); }

  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  size_t bytes() const { return capacity_ * sizeof(Slot); }

 private:
  struct Slot {
    uint64_t key;
    uint64_t value;
  };
  static constexpr size_t kMinCapacity = 16;

  size_t Home(uint64_t key) const {
    // Fibonacci hashing: the top bits of key * 2^64/phi spread aligned
    // addresses evenly.
    return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_);
  }
  // Zeroed slots; big arrays come straight from mmap, on transparent huge
  // pages where the kernel allows it (random access is TLB-bound).
  void Allocate(size_t capacity);
  static void Release(Slot* slots, size_t capacity);
  // Doubles the capacity; out of line, off the insert path.
  __attribute__((noinline)) void Grow();

  Slot* slots_ = nullptr;
  size_t capacity_ = 0;
  size_t mask_ = 0;
  int shift_ = 64;
  size_t size_ = 0;
  size_t grow_at_ = 0;  // an insert at this size grows first (5/8 full).
};

}  // namespace slabtrace

#endif  // SLABTRACE_REPLAY_INTERNAL_ADDRESS_MAP_H_
