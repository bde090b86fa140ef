// The recorder's process-wide state and the hot path shared by the
// interposed entry points (interpose.cc). One Recorder exists per process,
// as a global with constant initialisation, because malloc can be called
// before any constructor has run.
//
// It promises:
//  - every recorded call becomes exactly one slot with one ticket (a moving
//    realloc: two tickets), and tickets are dense, so the writer can merge
//    the per-thread rings back into one order without gaps;
//  - tickets are taken AFTER the real call for anything that makes a block
//    live, and BEFORE the real call for anything that ends one (see
//    TakeTicket), which is what keeps the merged order causal across
//    threads;
//  - no allocation through the interposed functions happens on this path,
//    and a thread that re-enters (a signal handler, the recorder's own
//    work) is served unrecorded, so the recorder never recurses.
//
// Free of absl and protobuf: everything here may run before libstdc++ or
// any other library is initialised.

#ifndef SLABTRACE_RECORD_INTERNAL_RECORDER_H_
#define SLABTRACE_RECORD_INTERNAL_RECORDER_H_

#include <pthread.h>
#include <sched.h>
#include <sys/types.h>
#include <time.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "record/internal/call_clock.h"
#include "record/internal/real_jemalloc.h"
#include "record/internal/slot_ring.h"

namespace slabtrace {
namespace record_internal {

inline constexpr uint32_t kMaxRings = 1024;
inline constexpr uint32_t kMaxSmallLookup = 4096;  // entries of 8 bytes.
inline constexpr uint32_t kMaxLargeClasses = 256;
// Set in the ticket counter when recording has stopped; any ticket taken
// afterwards has it set and is discarded by its taker.
inline constexpr uint64_t kStoppedBit = uint64_t{1} << 62;

enum class RecorderState : int {
  kUninitialized,
  kInitializing,
  kReady,  // jemalloc resolved; recording starts with the constructor,
           // so the start-up of the recorder's own dependencies
           // (libstdc++, protobuf, abseil) is not in the trace.
  kEnabled,
  kDisabled,  // geometry refused, no output, or stopped: pass-through only.
  // EnsureInitialized() relies on this order: kReady and after are final.
};

enum class OnFork : int { kRecord, kStop };

struct RecorderOptions {
  char output[4096] = {0};  // SLABTRACE_OUTPUT
  OnFork on_fork = OnFork::kRecord;
  uint32_t ring_events = 32768;  // power of two
  uint32_t flush_ms = 100;
  uint32_t events_per_chunk = 64 * 1024;
  int zstd_level = 1;
  // SLABTRACE_TIMESTAMPS=all: every call reads the clock (CallClock).
  uint32_t calls_per_stamp = kCallsPerStamp;
  // SLABTRACE_ON_FULL=drop: a call that finds its ring full is not recorded
  // (and counted) instead of waiting for the writer. Never the second slot
  // of a moving realloc, whose ticket is already taken.
  bool drop_when_full = false;
};

// Size class lookup built from jemalloc's own tables at start-up.
struct SizeClassTable {
  uint32_t nbins = 0;
  uint32_t nclasses = 0;
  uint64_t max_small = 0;
  uint64_t page = 0;
  // small_by_size8[(size + 7) >> 3] = smallest small class >= size.
  uint16_t small_by_size8[kMaxSmallLookup + 1] = {0};
  uint64_t large_sizes[kMaxLargeClasses] = {0};
  uint32_t nlarge = 0;

  // The class a block of `size` bytes (usable or requested) belongs to.
  uint16_t ClassOf(uint64_t size) const {
    if (size <= max_small) return small_by_size8[(size + 7) >> 3];
    return LargeClassOf(size);
  }
  uint16_t LargeClassOf(uint64_t size) const;
};

struct ThreadState {
  SlotRing* ring = nullptr;
  uint32_t thread = 0;  // thread number + 1; 0 = none yet.
  uint32_t generation = 0;
  uint32_t busy = 0;     // > 0: inside the recorder, serve unrecorded.
  bool exiting = false;  // pthread key destructor has run.
  bool shared = false;   // ring is the shared one (needs its lock).
  CallClock clock;       // which of this thread's calls read the clock.
};

extern __thread ThreadState tls_state
    __attribute__((tls_model("initial-exec")));

struct Recorder {
  std::atomic<RecorderState> state{RecorderState::kUninitialized};
  // Alone on its cache line: every recorded call writes it, and the writer
  // reads the fields around it all the time.
  alignas(64) std::atomic<uint64_t> tickets{0};
  // Moved by the writer at every wake-up: a thread's first call after it
  // reads the clock (CallClock). Read on every call, written rarely.
  alignas(64) std::atomic<uint32_t> writer_epoch{0};
  alignas(64) std::atomic<uint32_t> threads{0};
  std::atomic<uint32_t> generation{1};
  std::atomic<uint32_t> num_rings{0};
  std::atomic<uint64_t> lost_slots{0};    // ring full while no writer ran.
  std::atomic<uint64_t> dropped_full{0};  // drop_when_full: calls skipped.
  std::atomic<uint64_t> ring_waits{0};    // calls that waited for space.
  std::atomic<uint64_t> ring_wait_ns{0};  // and how long, in all.
  std::atomic<bool> writer_alive{false};
  // The futex word the writer sleeps on: 0 while it sleeps undisturbed, 1
  // once a wake-up is on its way (so that a crowded ring makes one system
  // call per sleep, not one per call). A futex, not a file descriptor: a
  // program may close or reuse any descriptor it did not open.
  std::atomic<uint32_t> wake_word{0};
  std::atomic<int> writer_start{0};        // 0 none, 1 starting, 2 started
  SlotRing* rings[kMaxRings] = {nullptr};  // rings[0] is the shared ring.
  // Where the interposer forwards calls and the recorder's own memory lives.
  RealJemalloc real;
  // The jemalloc whose heap is recorded: `real`, or with use_hooks a
  // program's own copy (record/README.md, "Ways in").
  RealJemalloc target;
  bool use_hooks = false;
  const char* way_in = "interposition";
  SizeClassTable classes;
  RecorderOptions options;
  int private_flags = 0;  // MALLOCX flags for the recorder's own memory.
  unsigned private_arena = ~0u;
  uint64_t start_ns = 0;     // CLOCK_MONOTONIC at the start of recording.
  uint64_t start_ticks = 0;  // Timestamp() at the same instant.
  bool use_tsc = false;      // Timestamp() is the invariant TSC.
  pid_t pid = 0;
  pthread_key_t exit_key = 0;
};

extern Recorder recorder;

inline uint64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u +
         static_cast<uint64_t>(ts.tv_nsec);
}

// Event time stamps: the invariant TSC where the CPU has one (several times
// cheaper than clock_gettime under a hypervisor's clocksource), converted
// to CLOCK_MONOTONIC nanoseconds by the writer; else CLOCK_MONOTONIC.
inline uint64_t Timestamp() {
#if defined(__x86_64__)
  if (recorder.use_tsc) return __rdtsc();
#endif
  return MonotonicNs();
}

// True when the calling thread should record its call.
inline bool ShouldRecord() {
  return recorder.state.load(std::memory_order_acquire) ==
             RecorderState::kEnabled &&
         tls_state.busy == 0;
}

// Resolves jemalloc and reads the size classes on the first call. Returns
// false while the calling thread is itself resolving (dlopen/dlsym calling
// back into malloc): the caller then serves from the bootstrap arena.
bool InitializeOrWait();
inline bool EnsureInitialized() {
  // kReady, kEnabled, kDisabled: initialisation is over (inline, since
  // every interposed malloc_usable_size asks).
  if (recorder.state.load(std::memory_order_acquire) >= RecorderState::kReady) {
    return recorder.real.malloc != nullptr;
  }
  return InitializeOrWait();
}

// Called by a ring three quarters full: wakes the writer if it sleeps.
// No allocation; at most one system call per writer sleep.
void WakeWriter();
// The same without the shortcut: for RequestStop, which must not rely on a
// wake-up already on its way having been seen.
void WakeWriterAlways();

// Cold path of RingForThisThread().
SlotRing* AcquireRing(ThreadState& ts);

// Starts the writer thread if it is not running yet (after fork, or if the
// constructor has not run); never from inside the dynamic loader.
void MaybeStartWriter();

// Ends the recording: the "exit" marker, a final drain and the trailer.
// Idempotent; called from the library destructor and _exit.
void FinishRecording();

// Fills and publishes slots for one call. Construct after the real call
// for allocations and before it for frees (the constructor takes nothing;
// TakeTicket orders the call).
class SlotWriter {
 public:
  SlotWriter() : ts_(tls_state) {
    ++ts_.busy;
    ring_ = ts_.ring;
    if (ring_ == nullptr ||
        ts_.generation != recorder.generation.load(std::memory_order_relaxed)) {
      ring_ = AcquireRing(ts_);
    }
    if (ts_.shared) Lock();
  }
  ~SlotWriter() {
    if (ts_.shared) Unlock();
    --ts_.busy;
  }
  SlotWriter(const SlotWriter&) = delete;
  SlotWriter& operator=(const SlotWriter&) = delete;

  // The next slot with its ticket, thread and time filled in, or nullptr
  // when recording has stopped (nothing must be published then).
  Slot* TakeTicket() {
    slot_ = ring_->NextFree();
    if (slot_ == nullptr) {
      if (recorder.options.drop_when_full) {
        recorder.dropped_full.fetch_add(1, std::memory_order_relaxed);
        return nullptr;
      }
      slot_ = WaitForSpace();
    }
    if (slot_ == nullptr) return nullptr;
    const uint64_t ticket =
        recorder.tickets.fetch_add(1, std::memory_order_acq_rel);
    if (ticket & kStoppedBit) return slot_ = nullptr;
    return Fill(slot_, ticket);
  }
  void Publish() { ring_->Publish(); }
  // A further slot of the same call under `ticket`, already taken (an
  // in-place grow, see PublishResize in interpose.cc); Publish() it.
  Slot* TakeSlotFor(uint64_t ticket) {
    slot_ = ring_->NextFree();
    if (slot_ == nullptr) slot_ = WaitForSpace();
    return slot_ == nullptr ? nullptr : Fill(slot_, ticket);
  }
  // The second ticket of a moving realloc (see ReallocPlacement in writer.cc).
  void PublishContinuation(uint64_t ticket, uint64_t first_ticket) {
    Slot* slot = ring_->NextFree();
    if (slot == nullptr) slot = WaitForSpace();
    if (slot == nullptr) return;
    slot->ticket = ticket;
    slot->thread = ts_.thread - 1;
    slot->time_ns = 0;
    slot->aux = first_ticket;
    slot->type = SlotType::kContinuation;
    slot->outcome = CallOutcome::kPlain;
    ring_->Publish();
  }

 private:
  // Waits until the ring has room (nullptr: give the slot up), and adds
  // the time it took to recorder.ring_wait_ns.
  Slot* WaitForSpace();
  Slot* WaitUntilFree();
  // Ticket, thread and time set, every optional field cleared.
  Slot* Fill(Slot* slot, uint64_t ticket) {
    slot->ticket = ticket;
    slot->thread = ts_.thread - 1;
    slot->time_ns = ts_.clock.Stamp(
        recorder.writer_epoch.load(std::memory_order_relaxed),
        recorder.options.calls_per_stamp, [] { return Timestamp(); });
    slot->old_ptr = 0;
    slot->aux = 0;
    slot->old_size_class = 0;
    slot->outcome = CallOutcome::kPlain;
    return slot;
  }
  void Lock() {
    while (ring_->lock.exchange(true, std::memory_order_acquire)) {
      sched_yield();
    }
  }
  void Unlock() { ring_->lock.store(false, std::memory_order_release); }

  ThreadState& ts_;
  SlotRing* ring_;
  Slot* slot_ = nullptr;
};

}  // namespace record_internal
}  // namespace slabtrace

#endif  // SLABTRACE_RECORD_INTERNAL_RECORDER_H_
