#include "replay/internal/address_map.h"

#include <sys/mman.h>

#include <cstddef>
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

void AddressMap::Grow() {
  Slot* const old = slots_;
  const size_t old_capacity = capacity_;
  Allocate(old_capacity * 2);
  for (size_t i = 0; i < old_capacity; ++i) {
    if (old[i].key != 0) *Insert(old[i].key).first = old[i].value;
  }
  Release(old, old_capacity);
}

void AddressMap::Erase(uint64_t* value) {
  // The slot holding `value`; its key precedes it.
  size_t hole = static_cast<size_t>(
      reinterpret_cast<Slot*>(reinterpret_cast<char*>(value) -
                              offsetof(Slot, value)) -
      slots_);
  // Backward shift: pull later entries of the probe run into the hole
  // unless their home lies cyclically in (hole, j].
  for (size_t j = (hole + 1) & mask_; slots_[j].key != 0; j = (j + 1) & mask_) {
    const size_t home = Home(slots_[j].key);
    const bool stays =
        hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (!stays) {
      slots_[hole] = slots_[j];
      hole = j;
    }
  }
  slots_[hole] = Slot{0, 0};
  --size_;
}

}  // namespace slabtrace
