// jemalloc: a model of jemalloc 5.3's bin logic (arena_bin_malloc_*,
// arena_bin_lower_slab, arena_dalloc_bin_locked_step).
//
// Per arena and size class a bin has `slabcur` and a heap of non-full
// slabs ordered by (serial number, address). An allocation takes the lowest
// free region of slabcur; when slabcur is full (or absent) the lowest
// (serial, address) non-full slab becomes slabcur, else a fresh slab does.
// A free that makes a full slab non-full moves it into the heap, unless it
// is older than slabcur, in which case it becomes slabcur and slabcur goes
// back to the heap. An empty slab is released at once.
//
// Arenas: jemalloc gives each new thread the least-loaded arena, which for
// threads that never exit is round robin: thread t uses arena
// t % narenas (TraceHeader.narenas, 1 when absent). Serial numbers are the
// simulator's slab creation order (jemalloc's extent serials also survive
// recycling; see sim/README.md). The thread-cache model (--tcache) lives in
// SimulatedAllocator, in front of this bin logic.

#include <algorithm>
#include <memory>
#include <tuple>
#include <vector>

#include "absl/container/btree_set.h"
#include "sim/policy_registry.h"

namespace slabtrace {
namespace {

constexpr uint32_t kNone = SlabChoice::kNewSlab;

class JemallocPolicy : public PlacementPolicy {
 public:
  JemallocPolicy(int num_classes, uint32_t narenas)
      : num_classes_(num_classes),
        narenas_(narenas),
        bins_(static_cast<size_t>(num_classes) * narenas),
        arena_of_(num_classes) {}

  SlabChoice Place(const ObjectEvent& event, const SlabTable& slabs) override {
    const uint32_t arena = event.thread % narenas_;
    Bin& bin = BinOf(arena, slabs.size_class());
    SlabChoice choice;
    if (bin.slabcur != kNone && !slabs.full(bin.slabcur)) {
      choice.slab = bin.slabcur;
    } else if (!bin.nonfull.empty()) {
      bin.slabcur = std::get<2>(*bin.nonfull.begin());
      bin.nonfull.erase(bin.nonfull.begin());
      choice.slab = bin.slabcur;
    } else {
      bin.slabcur = kNone;
      pending_arena_ = arena;  // the fresh slab becomes slabcur.
    }
    return choice;
  }

  void OnSlabCreated(const SlabTable& slabs, uint32_t slab) override {
    std::vector<uint32_t>& arena_of = arena_of_[slabs.size_class()];
    if (arena_of.size() <= slab) arena_of.resize(slab + 1);
    arena_of[slab] = pending_arena_;
    BinOf(pending_arena_, slabs.size_class()).slabcur = slab;
  }

  void OnFillChanged(const SlabTable& slabs, uint32_t slab,
                     uint32_t old_fill) override {
    // Only a free that un-fills a full slab other than slabcur matters.
    if (old_fill != slabs.capacity() || slabs.fill(slab) >= old_fill) return;
    Bin& bin = BinOf(arena_of_[slabs.size_class()][slab], slabs.size_class());
    if (slab == bin.slabcur) return;
    if (bin.slabcur != kNone && Older(slabs, slab, bin.slabcur)) {
      if (!slabs.full(bin.slabcur)) bin.nonfull.insert(Key(slabs, bin.slabcur));
      bin.slabcur = slab;
    } else {
      bin.nonfull.insert(Key(slabs, slab));
    }
  }

  void OnSlabReleased(const SlabTable& slabs, uint32_t slab) override {
    Bin& bin = BinOf(arena_of_[slabs.size_class()][slab], slabs.size_class());
    if (bin.slabcur == slab) {
      bin.slabcur = kNone;
    } else {
      bin.nonfull.erase(Key(slabs, slab));
    }
  }

 private:
  using SlabKey = std::tuple<uint64_t, uint64_t, uint32_t>;
  struct Bin {
    uint32_t slabcur = kNone;
    absl::btree_set<SlabKey> nonfull;  // (serial, address, index).
  };

  static SlabKey Key(const SlabTable& slabs, uint32_t slab) {
    return {slabs.serial(slab), slabs.address(slab), slab};
  }
  static bool Older(const SlabTable& slabs, uint32_t a, uint32_t b) {
    return Key(slabs, a) < Key(slabs, b);
  }
  Bin& BinOf(uint32_t arena, uint32_t size_class) {
    return bins_[static_cast<size_t>(arena) * num_classes_ + size_class];
  }

  int num_classes_;
  uint32_t narenas_;
  std::vector<Bin> bins_;
  std::vector<std::vector<uint32_t>> arena_of_;  // [class][slab].
  uint32_t pending_arena_ = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<PlacementPolicy>> MakeJemallocPolicy(
    const PolicyContext& context) {
  const uint32_t narenas = std::max<uint32_t>(
      1, std::min<uint32_t>(context.header->narenas(), 4096));
  return std::make_unique<JemallocPolicy>(context.geometry->num_classes(),
                                          narenas);
}

}  // namespace slabtrace
