// SlotRing is the per-thread buffer between an application thread (the one
// producer) and the recorder's writer thread (the one consumer). Each slot
// describes one interposed call; the writer merges all rings back into one
// stream by ticket number.
//
// It promises: slots come out in the order they went in, a slot is visible
// to the consumer only after it is completely written (release/acquire on
// `tail`), and the ring never allocates through malloc (its memory is
// mmap'd), so it can be used from inside the malloc interposer. The ring
// holds at most `capacity` slots; a full ring makes the producer wait for
// the writer (lossless); a ring three quarters full calls its `crowded`
// function (the recorder wakes its writer early with it).
//
// Deliberately free of absl and of anything that may allocate: this header
// is used on the allocation hot path.

#ifndef SLABTRACE_RECORD_INTERNAL_SLOT_RING_H_
#define SLABTRACE_RECORD_INTERNAL_SLOT_RING_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace slabtrace {
namespace record_internal {

// What the writer turns a slot into.
enum class SlotType : uint8_t {
  // The first three have EventKind's values.
  kAlloc,         // one kAlloc event.
  kFree,          // one kFree event.
  kResize,        // one kResize event.
  kMoved,         // a moving realloc: kAlloc(ptr) then kFree(old_ptr),
                  // placed before `aux` (the continuation ticket), see
                  // TraceMerger.
  kContinuation,  // second ticket of a moving realloc (aux = first ticket);
                  // no event of its own.
  kNoEvent,       // a call that changed nothing (failed, free(NULL)).
  kMarker,        // aux = MarkerRequest* (owned by the writer afterwards).
};

// How a call ended, for the per-API call counters (calls_by_api); the
// writer turns it into the "<api>.<outcome>" keys documented in
// record/README.md.
enum class CallOutcome : uint8_t {
  kPlain,     // the ordinary case: counted only under "<api>".
  kFailed,    // allocation returned NULL / xallocx could not grow.
  kNull,      // free-family call with a NULL pointer.
  kMoved,     // realloc-family call that moved the block.
  kInPlace,   // realloc-family call that kept the block.
  kFromNull,  // realloc-family call on NULL: an allocation.
  kFreed,     // realloc(p, 0) that freed p and returned NULL.
  // The free half of a moving realloc seen through jemalloc's hooks: its
  // call was counted with the alloc half, so it is not counted again.
  kSecondHalf,
};

struct alignas(64) Slot {
  uint64_t ticket;
  uint64_t time_ns;  // Timestamp() (recorder.h), or kUntimedStamp.
  uint64_t ptr;
  uint64_t size;     // requested size (alloc/resize) or size passed to free.
  uint64_t old_ptr;  // kMoved: the block that was freed.
  uint64_t aux;
  uint32_t thread;
  uint16_t size_class;
  uint16_t old_size_class;
  SlotType type;
  uint8_t api;  // AllocApi
  CallOutcome outcome;
};
static_assert(sizeof(Slot) == 64, "one slot per cache line");

class SlotRing {
 public:
  enum State : uint32_t { kUnused = 0, kOwned = 1, kRetired = 2 };

  // `slots` must have room for `capacity` entries, a power of two.
  // `crowded` (may be null) must not allocate through malloc.
  void Init(Slot* slots, uint32_t capacity, void (*crowded)() = nullptr) {
    slots_ = consumer_slots_ = slots;
    mask_ = consumer_mask_ = capacity - 1;
    high_water_ = capacity - capacity / 4 - 1;
    crowded_ = crowded;
    head_.store(0, std::memory_order_relaxed);
    tail_.store(0, std::memory_order_relaxed);
    cached_head_ = cached_tail_ = consumer_head_ = 0;
  }
  uint32_t capacity() const { return mask_ + 1; }
  size_t bytes() const { return sizeof(Slot) * capacity(); }

  // Producer side. NextFree() returns the next free slot or nullptr when
  // full; Publish() makes it visible. The producer re-reads the consumer's
  // `head_` only when the ring looks three quarters full, so the two
  // threads do not bounce its cache line on every call.
  Slot* NextFree() {
    const uint64_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - cached_head_ > high_water_) {
      cached_head_ = head_.load(std::memory_order_acquire);
      const uint64_t used = tail - cached_head_;
      if (used > high_water_ && crowded_ != nullptr) crowded_();
      if (used > mask_) return nullptr;
    }
#if defined(__x86_64__)
    // Own the line of a later slot before it is written: the consumer read
    // it a lap ago.
    __asm__ volatile("prefetchw %0" : : "m"(slots_[(tail + 4) & mask_]));
#endif
    return &slots_[tail & mask_];
  }
  void Publish() {
    tail_.store(tail_.load(std::memory_order_relaxed) + 1,
                std::memory_order_release);
  }

  // Consumer side: Refresh() learns which slots the producer has published;
  // Peek()/Pop() walk those; Commit() hands the popped ones back to the
  // producer (once per run, not per slot). Front() is Peek() with a
  // Refresh() when it runs out. A consumer that refreshes once per pass
  // instead of whenever it catches up does not chase the producer, which
  // would move tail_'s line and the newest slot's between the two cores
  // on every call.
  void Refresh() { cached_tail_ = tail_.load(std::memory_order_acquire); }
  const Slot* Peek() const {
    if (consumer_head_ == cached_tail_) return nullptr;
    return &consumer_slots_[consumer_head_ & consumer_mask_];
  }
  const Slot* Front() {
    if (consumer_head_ == cached_tail_) Refresh();
    return Peek();
  }
  void Pop() { ++consumer_head_; }
  void Commit() { head_.store(consumer_head_, std::memory_order_release); }
  bool Empty() const {
    return head_.load(std::memory_order_acquire) ==
           tail_.load(std::memory_order_acquire);
  }
  // Only when no producer or consumer is running (after fork, in the child).
  void ResetUnsafe() {
    head_.store(0, std::memory_order_relaxed);
    tail_.store(0, std::memory_order_relaxed);
    cached_head_ = 0;
    cached_tail_ = 0;
    consumer_head_ = 0;
    state.store(kUnused, std::memory_order_relaxed);
    lock.store(false, std::memory_order_relaxed);
  }

  std::atomic<uint32_t> state{kUnused};
  // Serialises producers of a shared ring (see Recorder); unused otherwise.
  std::atomic<bool> lock{false};

 private:
  // Consumer's line.
  alignas(64) std::atomic<uint64_t> head_{0};
  uint64_t consumer_head_ = 0;
  uint64_t cached_tail_ = 0;
  // The consumer's own copies of slots_ and mask_. Reading them from the
  // producer's line for every slot pulled that line over from the
  // producer's core, which writes tail_ on every call, and back again.
  Slot* consumer_slots_ = nullptr;
  uint32_t consumer_mask_ = 0;
  // Producer's line. (A shared ring's producers take `lock` first.)
  alignas(64) std::atomic<uint64_t> tail_{0};
  uint64_t cached_head_ = 0;
  Slot* slots_ = nullptr;
  uint32_t mask_ = 0;
  uint32_t high_water_ = 0;  // slots in use above which crowded_ is called.
  void (*crowded_)() = nullptr;
};

}  // namespace record_internal
}  // namespace slabtrace

#endif  // SLABTRACE_RECORD_INTERNAL_SLOT_RING_H_
