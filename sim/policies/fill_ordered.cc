// best-fit (fullest non-full slab first, as TCMalloc prioritises spans) and
// worst-fit (emptiest non-full slab first). Ties go to the lowest address.
// Partial slabs sit in one bucket per fill count (an IndexSet: lowest index
// is lowest address, as the allocator assigns the addresses), with a bitmap
// of non-empty buckets, so a choice costs two bitmap scans and a fill change
// two bit flips.

#include <memory>
#include <utility>
#include <vector>

#include "sim/internal/address_ordered_set.h"
#include "sim/internal/index_set.h"
#include "sim/policy_registry.h"

namespace slabtrace {
namespace {

using sim_internal::Partial;

class FillBuckets {
 public:
  void Insert(const SlabTable& slabs, uint32_t slab, uint32_t fill) {
    Grow(slabs.capacity());
    buckets_[fill].Insert(slab);
    nonempty_[fill / 64] |= uint64_t{1} << (fill % 64);
  }
  void Erase(const SlabTable& slabs, uint32_t slab, uint32_t fill) {
    auto& bucket = buckets_[fill];
    bucket.Erase(slab);
    if (bucket.empty()) nonempty_[fill / 64] &= ~(uint64_t{1} << (fill % 64));
  }
  uint32_t Fullest() const {
    for (size_t w = nonempty_.size(); w-- > 0;) {
      if (nonempty_[w] != 0) {
        return buckets_[w * 64 + 63 - __builtin_clzll(nonempty_[w])].First();
      }
    }
    return SlabChoice::kNewSlab;
  }
  uint32_t Emptiest() const {
    for (size_t w = 0; w < nonempty_.size(); ++w) {
      if (nonempty_[w] != 0) {
        return buckets_[w * 64 + __builtin_ctzll(nonempty_[w])].First();
      }
    }
    return SlabChoice::kNewSlab;
  }

 private:
  void Grow(uint32_t capacity) {
    if (!buckets_.empty()) return;
    buckets_.resize(capacity);
    nonempty_.resize(capacity / 64 + 1);
  }
  std::vector<sim_internal::IndexSet> buckets_;
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
