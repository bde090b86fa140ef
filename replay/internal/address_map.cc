#include "replay/internal/address_map.h"

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace slabtrace {

namespace {

// Below this, calloc; above, an anonymous mapping (zeroed lazily).
constexpr size_t kMapThresholdBytes = size_t{2} << 20;

}  // namespace

void AddressMap::Allocate(size_t capacity) {
  const size_t bytes = capacity * sizeof(Slot);
  void* memory = nullptr;
  if (bytes >= kMapThresholdBytes) {
    memory = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) throw std::bad_alloc();
    madvise(memory, bytes, MADV_HUGEPAGE);  // advice only; may be refused.
  } else {
    memory = std::calloc(capacity, sizeof(Slot));
    if (memory == nullptr) throw std::bad_alloc();
  }
  slots_ = static_cast<Slot*>(memory);  // all keys 0: empty
  capacity_ = capacity;
  mask_ = capacity - 1;
  shift_ = 64 - __builtin_ctzll(capacity);
  size_ = 0;
  grow_at_ = capacity / 8 * 5;
}

void AddressMap::Release(Slot* slots, size_t capacity) {
  if (slots == nullptr) return;
  const size_t bytes = capacity * sizeof(Slot);
  if (bytes >= kMapThresholdBytes) {
    munmap(slots, bytes);
  } else {
    std::free(slots);
  }
}

void AddressMap::Reserve(size_t n) {
  if (n <= grow_at_) return;
  size_t capacity = capacity_;
  while (capacity / 8 * 5 < n && capacity < (size_t{1} << 58)) capacity *= 2;
  if (size_ == 0) {
    Release(slots_, capacity_);
    slots_ = nullptr;
    Allocate(capacity);
    return;
  }
  while (capacity_ < capacity) Grow();
}

void AddressMap::Grow() {
  Slot* const old = slots_;
  const size_t old_capacity = capacity_;
  const size_t size = size_;
  Allocate(old_capacity * 2);
  // Keys are distinct and the new table has room: place each entry at the
  // first empty slot from its home, without Insert's key comparisons and
  // load check. The home is the top bits of the hash, so old slot i's
  // entries land near new slot 2i: the writes move forward through memory.
  // Whether an old slot is empty is a coin toss at this load, so it is not
  // a branch: an empty slot (key 0) is copied to `sink`, chosen with a
  // mask, whose key stays 0. The one branch left is taken only when the
  // home slot is already in use.
  Slot sink = {0, 0};
  const uintptr_t sink_address = reinterpret_cast<uintptr_t>(&sink);
  for (size_t i = 0; i < old_capacity; ++i) {
    const Slot entry = old[i];
    const uintptr_t keep =
        uintptr_t{0} - static_cast<uintptr_t>(entry.key != 0);
    const uintptr_t home =
        reinterpret_cast<uintptr_t>(&slots_[Home(entry.key)]);
    Slot* to = reinterpret_cast<Slot*>((home & keep) | (sink_address & ~keep));
    if (to->key != 0) {
      size_t j = (static_cast<size_t>(to - slots_) + 1) & mask_;
      while (slots_[j].key != 0) j = (j + 1) & mask_;
      to = &slots_[j];
    }
    *to = entry;
  }
  size_ = size;
  Release(old, old_capacity);
}

}  // namespace slabtrace
