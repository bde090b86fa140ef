// best-fit (fullest non-full slab first, as TCMalloc prioritises spans) and
// worst-fit (emptiest non-full slab first). Ties go to the lowest address.
// Partial slabs sit in one bucket per fill count (a bitmap of slab indices:
// lowest index is lowest address, as the allocator assigns the addresses),
// with a bitmap of non-empty buckets, so a choice costs two bitmap scans and
// a fill change two bit flips.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "sim/internal/address_ordered_set.h"
#include "sim/policy_registry.h"

namespace slabtrace {
namespace {

using sim_internal::Partial;

// The partial slabs of one class by fill. Stored transposed, word-major:
// bits_[w * fills_ + f] holds slabs 64w..64w+63 of fill f, so the move of a
// slab from fill f to f +- 1 (every allocation and free) touches one cache
// line of bits and one of the summary instead of two separately allocated
// bitmaps. summary_[s * fills_ + f] has bit w % 64 set when word
// w = 64s + (w % 64) of fill f is non-zero; nonempty_ marks fills with any
// slab.
class FillBuckets {
 public:
  void Insert(const SlabTable& slabs, uint32_t slab, uint32_t fill) {
    if (fills_ == 0) Init(slabs.capacity());
    const uint32_t w = slab / 64;
    if (w >= words_) Grow(w + 1);
    uint64_t& word = bits_[size_t{w} * fills_ + fill];
    const uint64_t bit = uint64_t{1} << (slab % 64);
    if (word & bit) return;
    word |= bit;
    summary_[size_t{w / 64} * fills_ + fill] |= uint64_t{1} << (w % 64);
    if (count_[fill]++ == 0) {
      nonempty_[fill / 64] |= uint64_t{1} << (fill % 64);
    }
  }
  void Erase(const SlabTable& slabs, uint32_t slab, uint32_t fill) {
    const uint32_t w = slab / 64;
    if (w >= words_) return;
    uint64_t& word = bits_[size_t{w} * fills_ + fill];
    const uint64_t bit = uint64_t{1} << (slab % 64);
    if ((word & bit) == 0) return;
    word &= ~bit;
    if (word == 0) {
      summary_[size_t{w / 64} * fills_ + fill] &= ~(uint64_t{1} << (w % 64));
    }
    if (--count_[fill] == 0) {
      nonempty_[fill / 64] &= ~(uint64_t{1} << (fill % 64));
    }
  }
  uint32_t Fullest() const {
    for (size_t w = nonempty_.size(); w-- > 0;) {
      if (nonempty_[w] != 0) {
        return Lowest(w * 64 + 63 - __builtin_clzll(nonempty_[w]));
      }
    }
    return SlabChoice::kNewSlab;
  }
  uint32_t Emptiest() const {
    for (size_t w = 0; w < nonempty_.size(); ++w) {
      if (nonempty_[w] != 0) {
        return Lowest(w * 64 + __builtin_ctzll(nonempty_[w]));
      }
    }
    return SlabChoice::kNewSlab;
  }

 private:
  void Init(uint32_t capacity) {
    fills_ = capacity;
    count_.assign(capacity, 0);
    nonempty_.assign(capacity / 64 + 1, 0);
  }
  void Grow(uint32_t min_words) {
    // Word-major: more words append rows, existing ones stay in place.
    words_ = std::max(min_words, words_ * 2);
    bits_.resize(size_t{words_} * fills_, 0);
    summary_.resize(size_t{(words_ + 63) / 64} * fills_, 0);
  }
  // The lowest slab of a non-empty fill.
  uint32_t Lowest(size_t fill) const {
    for (size_t s = 0;; ++s) {
      const uint64_t summary = summary_[s * fills_ + fill];
      if (summary == 0) continue;
      const size_t w = s * 64 + __builtin_ctzll(summary);
      return static_cast<uint32_t>(w * 64 +
                                   __builtin_ctzll(bits_[w * fills_ + fill]));
    }
  }

  uint32_t fills_ = 0;  // slab capacity: fills 0..capacity-1.
  uint32_t words_ = 0;  // 64-slab words per fill.
  std::vector<uint64_t> bits_;
  std::vector<uint64_t> summary_;
  std::vector<uint32_t> count_;  // slabs per fill.
  std::vector<uint64_t> nonempty_;
};

class FillOrderedPolicy : public PlacementPolicy {
 public:
  FillOrderedPolicy(int num_classes, bool fullest_first)
      : classes_(num_classes), fullest_first_(fullest_first) {}

  SlabChoice Place(const ObjectEvent&, const SlabTable& slabs) override {
    const FillBuckets& buckets = classes_[slabs.size_class()];
    SlabChoice choice;
    choice.slab = fullest_first_ ? buckets.Fullest() : buckets.Emptiest();
    return choice;
  }
  void OnFillChanged(const SlabTable& slabs, uint32_t slab,
                     uint32_t old_fill) override {
    FillBuckets& buckets = classes_[slabs.size_class()];
    if (Partial(old_fill, slabs.capacity())) {
      buckets.Erase(slabs, slab, old_fill);
    }
    const uint32_t fill = slabs.fill(slab);
    if (Partial(fill, slabs.capacity())) buckets.Insert(slabs, slab, fill);
  }
  void OnSlabReleased(const SlabTable& slabs, uint32_t slab) override {
    // It held exactly one region until now.
    if (Partial(1, slabs.capacity())) {
      classes_[slabs.size_class()].Erase(slabs, slab, 1);
    }
  }

 private:
  std::vector<FillBuckets> classes_;
  bool fullest_first_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<PlacementPolicy>> MakeBestFitPolicy(
    const PolicyContext& context) {
  return std::make_unique<FillOrderedPolicy>(context.geometry->num_classes(),
                                             /*fullest_first=*/true);
}

absl::StatusOr<std::unique_ptr<PlacementPolicy>> MakeWorstFitPolicy(
    const PolicyContext& context) {
  return std::make_unique<FillOrderedPolicy>(context.geometry->num_classes(),
                                             /*fullest_first=*/false);
}

}  // namespace slabtrace
