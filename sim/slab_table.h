// SlabTable holds the slabs of one size class in one simulated allocator:
// for each slab its address, serial number, fill count and free-region
// bitmap. Policies read it (the read-only view the placement interface
// promises); only SimulatedAllocator changes it.
//
// Slabs are identified by a dense index that is reused after the slab is
// released, lowest free index first, so side tables a policy keeps can be
// plain vectors indexed by slab index. Released indices are not live().

#ifndef SLABTRACE_SIM_SLAB_TABLE_H_
#define SLABTRACE_SIM_SLAB_TABLE_H_

#include <cstdint>
#include <functional>
#include <queue>
#include <vector>

#include "absl/types/span.h"

namespace slabtrace {

class SlabTable {
 public:
  SlabTable(uint32_t size_class, uint32_t capacity, uint64_t granule_bytes)
      : size_class_(size_class),
        capacity_(capacity),
        granule_bytes_(granule_bytes),
        words_(capacity / 64 + (capacity % 64 != 0)) {}

  uint32_t size_class() const { return size_class_; }
  // Regions per slab (1 for a large class: one object per granule).
  uint32_t capacity() const { return capacity_; }
  uint64_t granule_bytes() const { return granule_bytes_; }
  // Indices in [0, index_limit()) may be live.
  uint32_t index_limit() const { return static_cast<uint32_t>(slabs_.size()); }
  uint64_t live_slabs() const { return live_slabs_; }

  bool live(uint32_t slab) const {
    return slab < slabs_.size() && slabs_[slab].live;
  }
  uint64_t address(uint32_t slab) const { return slabs_[slab].address; }
  // Creation order over the whole allocator (lower = older), standing in
  // for jemalloc's extent serial number.
  uint64_t serial(uint32_t slab) const { return slabs_[slab].serial; }
  uint32_t fill(uint32_t slab) const { return slabs_[slab].fill; }
  bool full(uint32_t slab) const { return slabs_[slab].fill == capacity_; }
  bool region_free(uint32_t slab, uint32_t region) const {
    return (FreeWords(slab)[region / 64] >> (region % 64)) & 1;
  }
  // Bit r of word r / 64 is set when region r is free.
  absl::Span<const uint64_t> free_bitmap(uint32_t slab) const {
    return absl::MakeConstSpan(FreeWords(slab), words_);
  }
  // The lowest free region; capacity() when the slab is full.
  uint32_t LowestFreeRegion(uint32_t slab) const {
    const uint64_t* words = FreeWords(slab);
    for (uint32_t w = 0; w < words_; ++w) {
      if (words[w] != 0) return w * 64 + __builtin_ctzll(words[w]);
    }
    return capacity_;
  }

 private:
  friend class SimulatedAllocator;

  struct Slab {
    uint64_t address = 0;
    uint64_t serial = 0;
    uint32_t fill = 0;
    bool live = false;
  };

  const uint64_t* FreeWords(uint32_t slab) const {
    return &free_bits_[static_cast<size_t>(slab) * words_];
  }
  uint64_t* FreeWords(uint32_t slab) {
    return &free_bits_[static_cast<size_t>(slab) * words_];
  }

  // Makes a slab with every region free; returns its index.
  uint32_t Create(uint64_t address, uint64_t serial) {
    uint32_t slab;
    if (!free_indices_.empty()) {
      slab = free_indices_.top();
      free_indices_.pop();
    } else {
      slab = static_cast<uint32_t>(slabs_.size());
      slabs_.emplace_back();
      free_bits_.resize(free_bits_.size() + words_);
    }
    slabs_[slab] = Slab{address, serial, 0, true};
    uint64_t* words = FreeWords(slab);
    for (uint32_t w = 0; w < words_; ++w) {
      const uint32_t bits = capacity_ - w * 64;
      words[w] = bits >= 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
    }
    ++live_slabs_;
    return slab;
  }
  void Release(uint32_t slab) {
    slabs_[slab].live = false;
    free_indices_.push(slab);
    --live_slabs_;
  }
  void Take(uint32_t slab, uint32_t region) {
    FreeWords(slab)[region / 64] &= ~(uint64_t{1} << (region % 64));
    ++slabs_[slab].fill;
  }
  void Give(uint32_t slab, uint32_t region) {
    FreeWords(slab)[region / 64] |= uint64_t{1} << (region % 64);
    --slabs_[slab].fill;
  }

  uint32_t size_class_;
  uint32_t capacity_;
  uint64_t granule_bytes_;
  uint32_t words_;
  std::vector<Slab> slabs_;
  std::vector<uint64_t> free_bits_;
  std::priority_queue<uint32_t, std::vector<uint32_t>, std::greater<>>
      free_indices_;
  uint64_t live_slabs_ = 0;
};

}  // namespace slabtrace

#endif  // SLABTRACE_SIM_SLAB_TABLE_H_
