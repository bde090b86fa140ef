#include "proto/testing/redis_like_stream.h"

#include <algorithm>
#include <random>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "proto/slab_geometry.h"

namespace slabtrace {
namespace {

constexpr uint64_t kHeapBase = 0x7f3a00000000;

// Hands out regions of slabs the way a slab allocator does: the lowest
// non-full slab of the class first, regions reused LIFO (as a thread cache
// would), empty slabs given back and their addresses reused.
class SimulatedHeap {
 public:
  explicit SimulatedHeap(const SlabGeometry* geometry)
      : geometry_(geometry), classes_(geometry->num_classes()) {}

  uint64_t Allocate(uint32_t size_class) {
    ClassState& state = classes_[size_class];
    if (!geometry_->is_small(size_class)) {
      if (!state.free_bases.empty()) {
        const uint64_t base = state.free_bases.back();
        state.free_bases.pop_back();
        return base;
      }
      return Bump(geometry_->granule_bytes(size_class));
    }
    if (state.nonfull.empty()) {
      uint64_t base;
      if (!state.free_bases.empty()) {
        base = state.free_bases.back();
        state.free_bases.pop_back();
      } else {
        base = Bump(geometry_->slab_size(size_class));
      }
      Slab& slab = slabs_[base];
      const uint32_t nregs = geometry_->nregs(size_class);
      slab.free_regions.reserve(nregs);
      for (uint32_t k = nregs; k > 0; --k) slab.free_regions.push_back(k - 1);
      state.nonfull.push_back(base);
      std::push_heap(state.nonfull.begin(), state.nonfull.end(),
                     std::greater<uint64_t>());
    }
    const uint64_t base = state.nonfull.front();
    Slab& slab = slabs_[base];
    const uint32_t region = slab.free_regions.back();
    slab.free_regions.pop_back();
    if (slab.free_regions.empty()) {
      std::pop_heap(state.nonfull.begin(), state.nonfull.end(),
                    std::greater<uint64_t>());
      state.nonfull.pop_back();
    }
    return base + uint64_t{region} * geometry_->region_size(size_class);
  }

  void Free(uint64_t ptr, uint32_t size_class) {
    ClassState& state = classes_[size_class];
    if (!geometry_->is_small(size_class)) {
      state.free_bases.push_back(ptr);
      return;
    }
    const uint64_t base = geometry_->GranuleOf(ptr, size_class);
    Slab& slab = slabs_[base];
    const uint32_t nregs = geometry_->nregs(size_class);
    if (slab.free_regions.empty()) {
      state.nonfull.push_back(base);
      std::push_heap(state.nonfull.begin(), state.nonfull.end(),
                     std::greater<uint64_t>());
    }
    slab.free_regions.push_back(geometry_->RegionOf(ptr, size_class));
    if (slab.free_regions.size() == nregs) {  // empty: give it back.
      slabs_.erase(base);
      auto it = std::find(state.nonfull.begin(), state.nonfull.end(), base);
      state.nonfull.erase(it);
      std::make_heap(state.nonfull.begin(), state.nonfull.end(),
                     std::greater<uint64_t>());
      state.free_bases.push_back(base);
    }
  }

 private:
  struct Slab {
    std::vector<uint16_t> free_regions;
  };
  struct ClassState {
    std::vector<uint64_t> nonfull;  // min-heap of slab bases.
    std::vector<uint64_t> free_bases;
  };

  uint64_t Bump(uint64_t bytes) {
    const uint64_t base = next_;
    next_ += bytes;
    return base;
  }

  const SlabGeometry* geometry_;
  std::vector<ClassState> classes_;
  absl::flat_hash_map<uint64_t, Slab> slabs_;
  uint64_t next_ = kHeapBase;
};

struct LiveObject {
  uint64_t ptr;
  uint64_t size;
  uint32_t size_class;
};

}  // namespace

class RedisLikeStream::Impl {
 public:
  Impl(const TraceHeader& header, const Options& options)
      : options_(options),
        geometry_(*SlabGeometry::Create(header)),
        heap_(&geometry_),
        rng_(options.seed) {
    pending_.reserve(1024);
  }

  bool Next(Event* event) {
    while (next_pending_ == pending_.size()) {
      pending_.clear();
      next_pending_ = 0;
      Step();
    }
    *event = pending_[next_pending_++];
    event->seq = seq_++;
    event->slab = geometry_.GranuleOf(event->ptr, event->size_class);
    return true;
  }

  uint64_t live_objects() const { return keys_.size() + temps_.size(); }

 private:
  uint64_t Uniform(uint64_t n) { return rng_() % n; }
  bool Chance(uint32_t percent) { return Uniform(100) < percent; }

  void Emit(EventKind kind, AllocApi api, uint32_t thread, const LiveObject& o,
            uint64_t size) {
    time_ns_ += Uniform(2 * options_.ns_per_event + 1);
    Event e;
    e.kind = kind;
    e.api = api;
    e.thread = thread;
    e.ptr = o.ptr;
    e.size = size;
    e.size_class = static_cast<uint16_t>(o.size_class);
    e.time_ns = time_ns_;
    pending_.push_back(e);
  }

  LiveObject Allocate(uint32_t thread, uint64_t size) {
    LiveObject o;
    o.size = size;
    o.size_class = geometry_.ClassForSize(size);
    o.ptr = heap_.Allocate(o.size_class);
    Emit(EventKind::kAlloc, Chance(4) ? AllocApi::kCalloc : AllocApi::kMalloc,
         thread, o, size);
    return o;
  }

  void Free(uint32_t thread, const LiveObject& o) {
    Emit(EventKind::kFree, AllocApi::kFree, thread, o, 0);
    heap_.Free(o.ptr, o.size_class);
  }

  // Redis string sizes: mostly tiny, a long tail.
  uint64_t SmallSize() {
    const uint64_t r = Uniform(100);
    if (r < 40) return 8 + Uniform(25);
    if (r < 75) return 24 + Uniform(60);
    if (r < 95) return 80 + Uniform(300);
    return 300 + Uniform(3000);
  }

  uint64_t ValueSize() {
    static constexpr uint64_t kTypical[] = {16, 40, 100, 200, 1024, 1100};
    return kTypical[Uniform(6)] + Uniform(16);
  }

  void TakeKey(size_t index, LiveObject* object) {
    *object = keys_[index];
    keys_[index] = keys_.back();
    keys_.pop_back();
  }

  // One command of the main thread.
  void Step() {
    const uint32_t main = 0;
    // Temporaries: argv objects and strings.
    const int temps = 1 + static_cast<int>(Uniform(4));
    for (int i = 0; i < temps; ++i)
      temps_.push_back(Allocate(main, SmallSize()));
    const uint64_t r = Uniform(100);
    const bool full = keys_.size() >= options_.max_live_objects;
    if (r < 45 && !full) {
      // A write; sometimes a burst of same-sized values.
      const int burst = Chance(10) ? 10 + static_cast<int>(Uniform(90)) : 1;
      const uint64_t value = ValueSize();
      for (int i = 0; i < burst; ++i) {
        keys_.push_back(Allocate(main, 16 + Uniform(20)));  // key sds.
        keys_.push_back(Allocate(main, 24));                // dict entry.
        keys_.push_back(Allocate(main, value));
      }
    } else if (r < 70 || (full && r < 90)) {
      // A delete of a random key: its objects are scattered.
      const int n = 1 + static_cast<int>(Uniform(3));
      for (int i = 0; i < n && !keys_.empty(); ++i) {
        LiveObject o;
        TakeKey(Uniform(keys_.size()), &o);
        Free(main, o);
      }
    } else if (r < 78 && !keys_.empty()) {
      // APPEND: grow a value, in place when the class allows.
      LiveObject& o = keys_[Uniform(keys_.size())];
      const uint64_t grown = o.size + 1 + Uniform(o.size / 2 + 8);
      const uint32_t grown_class = geometry_.ClassForSize(grown);
      if (grown_class == o.size_class) {
        o.size = grown;
        Emit(EventKind::kResize, AllocApi::kRealloc, main, o, grown);
      } else {
        LiveObject moved{heap_.Allocate(grown_class), grown, grown_class};
        Emit(EventKind::kAlloc, AllocApi::kRealloc, main, moved, grown);
        Emit(EventKind::kFree, AllocApi::kRealloc, main, o, 0);
        heap_.Free(o.ptr, o.size_class);
        o = moved;
      }
    } else if (r < 80) {
      // A big query or reply buffer.
      temps_.push_back(Allocate(main, 16384 + Uniform(100000)));
    }
    // The reply buffer, then the temporaries die.
    temps_.push_back(Allocate(main, 16 + Uniform(200)));
    while (!temps_.empty()) {
      const size_t i = Chance(80) ? temps_.size() - 1 : Uniform(temps_.size());
      Free(main, temps_[i]);
      temps_[i] = temps_.back();
      temps_.pop_back();
    }
    Background();
  }

  void Background() {
    if (options_.background_threads <= 0 || !Chance(5)) return;
    const uint32_t thread =
        1 + static_cast<uint32_t>(Uniform(options_.background_threads));
    if (thread == 1) {
      // Lazy free: a batch of scattered long-lived objects.
      const int n = static_cast<int>(Uniform(20));
      for (int i = 0; i < n && !keys_.empty(); ++i) {
        LiveObject o;
        TakeKey(Uniform(keys_.size()), &o);
        Free(thread, o);
      }
    } else {
      LiveObject o = Allocate(thread, SmallSize());
      Free(thread, o);
    }
  }

  const Options options_;
  SlabGeometry geometry_;
  SimulatedHeap heap_;
  std::mt19937_64 rng_;
  std::vector<LiveObject> keys_;
  std::vector<LiveObject> temps_;
  std::vector<Event> pending_;
  size_t next_pending_ = 0;
  uint64_t seq_ = 0;
  uint64_t time_ns_ = 0;
};

RedisLikeStream::RedisLikeStream(const TraceHeader& header,
                                 const Options& options)
    : impl_(std::make_unique<Impl>(header, options)) {}
RedisLikeStream::~RedisLikeStream() = default;
bool RedisLikeStream::Next(Event* event) { return impl_->Next(event); }
uint64_t RedisLikeStream::live_objects() const { return impl_->live_objects(); }

}  // namespace slabtrace
