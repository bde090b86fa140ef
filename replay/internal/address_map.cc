#include "replay/internal/address_map.h"

namespace slabtrace {

void AddressMap::Allocate(size_t capacity) {
  slots_ = std::make_unique<Slot[]>(capacity);  // zeroed: all empty
  capacity_ = capacity;
  mask_ = capacity - 1;
  shift_ = 64 - __builtin_ctzll(capacity);
  size_ = 0;
}

void AddressMap::Grow() {
  std::unique_ptr<Slot[]> old = std::move(slots_);
  const size_t old_capacity = capacity_;
  Allocate(old_capacity * 2);
  for (size_t i = 0; i < old_capacity; ++i) {
    if (old[i].key != 0) *Insert(old[i].key).first = old[i].value;
  }
}

void AddressMap::Erase(uint64_t* value) {
  // The slot holding `value`; its key precedes it.
  size_t hole = static_cast<size_t>(
      reinterpret_cast<Slot*>(reinterpret_cast<char*>(value) -
                              offsetof(Slot, value)) -
      slots_.get());
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
