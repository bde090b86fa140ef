#include "record/internal/recorder.h"

#include <cpuid.h>
#include <jemalloc/jemalloc.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

#include "record/internal/hooks.h"
#include "record/internal/writer.h"
#include "record/jemalloc_introspection.h"

namespace slabtrace {
namespace record_internal {

__thread ThreadState tls_state __attribute__((tls_model("initial-exec")));
// Constant-initialised: malloc may run before any dynamic initialiser.
__constinit Recorder recorder;

namespace {

__constinit std::atomic<bool> ring_registry_lock{false};
__constinit std::atomic<bool> constructed{false};
__constinit std::atomic<bool> finished{false};
// The output path given by the environment; children of fork derive theirs
// from it.
char base_output[sizeof(RecorderOptions::output)];

uint64_t Gcd(uint64_t a, uint64_t b) {
  while (b != 0) {
    uint64_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

template <typename T>
bool ReadIndexed(const char* name, size_t index_position, size_t index,
                 T* out) {
  size_t mib[8];
  size_t miblen = 8;
  const MallctlApi& api = CurrentMallctlApi();
  if (api.nametomib(name, mib, &miblen) != 0) return false;
  mib[index_position] = index;
  size_t size = sizeof(T);
  return api.bymib(mib, miblen, out, &size, nullptr, 0) == 0 &&
         size == sizeof(T);
}

template <typename T>
bool Read(const char* name, T* out) {
  size_t size = sizeof(T);
  return CurrentMallctlApi().mallctl(name, out, &size, nullptr, 0) == 0 &&
         size == sizeof(T);
}

// Reads jemalloc's size classes into the hot-path lookup table and checks
// that a slab follows from (pointer, class) alone. The writer checks the
// same again through SlabGeometry::Create on the full header.
bool ReadSizeClasses(SizeClassTable* table) {
  unsigned nbins = 0, nlextents = 0;
  size_t page = 0;
  if (!Read("arenas.nbins", &nbins) || !Read("arenas.nlextents", &nlextents) ||
      !Read("arenas.page", &page) || nbins == 0 || page == 0) {
    WriteError("cannot read jemalloc's size classes (arenas.nbins)");
    return false;
  }
  if (nbins >= 65535 || nlextents > kMaxLargeClasses) {
    WriteError("unsupported jemalloc geometry: too many size classes");
    return false;
  }
  table->nbins = nbins;
  table->page = page;
  uint64_t previous = 0;
  for (unsigned i = 0; i < nbins; ++i) {
    size_t size = 0, slab_size = 0;
    uint32_t nregs = 0;
    if (!ReadIndexed("arenas.bin.0.size", 2, i, &size) ||
        !ReadIndexed("arenas.bin.0.nregs", 2, i, &nregs) ||
        !ReadIndexed("arenas.bin.0.slab_size", 2, i, &slab_size)) {
      WriteError("cannot read arenas.bin.<i>.{size,nregs,slab_size}");
      return false;
    }
    const uint64_t lcm = size / Gcd(size, page) * page;
    if (size <= previous || slab_size != lcm ||
        uint64_t{nregs} * size != slab_size) {
      // Slab bases would not follow from the pointer: refuse rather than
      // record wrong slabs.
      WriteError(
          "unsupported jemalloc slab geometry (slab_size != lcm(page, size) "
          "or nregs * size != slab_size); recording disabled");
      return false;
    }
    if (((size + 7) >> 3) > kMaxSmallLookup) {
      WriteError("unsupported jemalloc geometry: small class too large");
      return false;
    }
    // Sizes in (previous, size] map to class i; size 0 to the first class.
    const uint64_t first = i == 0 ? 0 : (previous >> 3) + 1;
    for (uint64_t s8 = first; s8 <= ((size + 7) >> 3); ++s8) {
      table->small_by_size8[s8] = static_cast<uint16_t>(i);
    }
    previous = size;
  }
  table->max_small = previous;
  for (unsigned i = 0; i < nlextents; ++i) {
    size_t size = 0;
    if (!ReadIndexed("arenas.lextent.0.size", 2, i, &size)) {
      WriteError("cannot read arenas.lextent.<i>.size");
      return false;
    }
    table->large_sizes[i] = size;
  }
  table->nlarge = nlextents;
  table->nclasses = nbins + nlextents;
  return true;
}

// Output of a process other than the one `slabtrace record` started (a
// forked child, or a program it executed): FILE.<pid>, built without
// snprintf's locale machinery.
bool UseOutputOfChild(pid_t pid) {
  char digits[24];
  int n = 0;
  for (; pid > 0 && n < 23; pid /= 10) {
    digits[n++] = static_cast<char>('0' + pid % 10);
  }
  size_t length = std::strlen(base_output);
  if (length + n + 2 > sizeof(recorder.options.output)) return false;
  std::memcpy(recorder.options.output, base_output, length);
  recorder.options.output[length++] = '.';
  while (n > 0) recorder.options.output[length++] = digits[--n];
  recorder.options.output[length] = 0;
  return true;
}

uint32_t ParseUint(const char* text, uint32_t fallback) {
  if (text == nullptr || *text == 0) return fallback;
  char* end = nullptr;
  unsigned long value = std::strtoul(text, &end, 10);
  if (*end != 0 || value == 0 || value > (1u << 30)) {
    WriteError("ignoring bad numeric setting ", text);
    return fallback;
  }
  return static_cast<uint32_t>(value);
}

void ReadOptions(RecorderOptions* options) {
  const char* output = getenv("SLABTRACE_OUTPUT");
  if (output == nullptr || *output == 0) output = "slabtrace.slabtrace";
  std::strncpy(base_output, output, sizeof(base_output) - 1);
  std::strncpy(options->output, output, sizeof(options->output) - 1);
  const char* on_fork = getenv("SLABTRACE_ON_FORK");
  if (on_fork != nullptr && std::strcmp(on_fork, "stop") == 0) {
    options->on_fork = OnFork::kStop;
  }
  const char* on_full = getenv("SLABTRACE_ON_FULL");
  options->drop_when_full =
      on_full != nullptr && std::strcmp(on_full, "drop") == 0;
  uint32_t ring = ParseUint(getenv("SLABTRACE_RING_EVENTS"), 32768);
  // The next power of two; ParseUint caps `ring` at 2^30, and so does this
  // loop, so that it ends even if that cap were raised.
  uint32_t power = 64;
  while (power < ring && power < (1u << 30)) power <<= 1;
  options->ring_events = power;
  options->flush_ms = ParseUint(getenv("SLABTRACE_FLUSH_MS"), 100);
  options->events_per_chunk =
      ParseUint(getenv("SLABTRACE_CHUNK_EVENTS"), 64 * 1024);
  options->zstd_level =
      static_cast<int>(ParseUint(getenv("SLABTRACE_ZSTD_LEVEL"), 1));
  const char* timestamps = getenv("SLABTRACE_TIMESTAMPS");
  if (timestamps != nullptr && std::strcmp(timestamps, "all") == 0) {
    options->calls_per_stamp = 1;
  }
  // A program the recorded process executes inherits our environment; it
  // must not overwrite the recorded process's file.
  const char* root = getenv("SLABTRACE_ROOT_PID");
  if (root != nullptr && std::strtol(root, nullptr, 10) != getpid()) {
    UseOutputOfChild(getpid());
  }
}

void CreatePrivateArena() {
  unsigned arena = 0;
  size_t size = sizeof(arena);
  if (recorder.real.mallctl("arenas.create", &arena, &size, nullptr, 0) == 0) {
    recorder.private_arena = arena;
    recorder.private_flags = MALLOCX_ARENA(arena) | MALLOCX_TCACHE_NONE;
  }
}

void OnThreadExit(void*) {
  ThreadState& ts = tls_state;
  ts.exiting = true;
  if (ts.ring != nullptr && !ts.shared &&
      ts.generation == recorder.generation.load(std::memory_order_relaxed)) {
    ts.ring->state.store(SlotRing::kRetired, std::memory_order_release);
  }
  // Whatever this thread frees from here on (its TLS, its stack cache)
  // goes through the shared ring.
  ts.ring = nullptr;
}

void AfterForkInChild() {
  if (recorder.state.load() != RecorderState::kEnabled) return;
  // Only this thread survives: every other ring, the writer and its file
  // belong to the parent.
  WriterForgetAfterFork();
  recorder.generation.fetch_add(1);
  recorder.tickets.store(0);
  recorder.threads.store(0);
  recorder.lost_slots.store(0);
  recorder.dropped_full.store(0);
  recorder.ring_waits.store(0);
  recorder.ring_wait_ns.store(0);
  recorder.writer_alive.store(false);
  recorder.writer_start.store(0);
  for (uint32_t i = 0; i < recorder.num_rings.load(); ++i) {
    recorder.rings[i]->ResetUnsafe();
  }
  ring_registry_lock.store(false);
  tls_state = ThreadState{};
  recorder.pid = getpid();
  finished.store(false);
  if (recorder.options.on_fork == OnFork::kStop) {
    recorder.state.store(RecorderState::kDisabled);
    return;
  }
  if (!UseOutputOfChild(recorder.pid)) {
    recorder.state.store(RecorderState::kDisabled);
    return;
  }
  recorder.start_ns = MonotonicNs();
  recorder.start_ticks = Timestamp();
}

SlotRing* NewRing() {
  const size_t slot_bytes = sizeof(Slot) * recorder.options.ring_events;
  void* memory =
      mmap(nullptr, sizeof(SlotRing) + slot_bytes + 64, PROT_READ | PROT_WRITE,
           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return nullptr;
  auto* ring = new (memory) SlotRing();
  char* slots = static_cast<char*>(memory) + ((sizeof(SlotRing) + 63) & ~63);
  ring->Init(reinterpret_cast<Slot*>(slots), recorder.options.ring_events,
             &WakeWriter);
  return ring;
}

bool HasInvariantTsc() {
#if defined(__x86_64__)
  unsigned eax, ebx, ecx, edx;
  if (getenv("SLABTRACE_CLOCK") != nullptr &&
      std::strcmp(getenv("SLABTRACE_CLOCK"), "monotonic") == 0) {
    return false;
  }
  return __get_cpuid(0x80000007, &eax, &ebx, &ecx, &edx) &&
         (edx & (1u << 8)) != 0;
#else
  return false;
#endif
}

bool Initialize() {
  if (!recorder.real.Resolve()) return false;
  ReadOptions(&recorder.options);
  if (!ChooseWayIn()) return false;
  if (!ReadSizeClasses(&recorder.classes)) return false;
  SlotRing* shared = NewRing();
  if (shared == nullptr) return false;
  shared->state.store(SlotRing::kOwned);
  recorder.rings[0] = shared;
  recorder.num_rings.store(1);
  CreatePrivateArena();
  recorder.pid = getpid();
  recorder.use_tsc = HasInvariantTsc();
  recorder.start_ns = MonotonicNs();
  recorder.start_ticks = Timestamp();
  if (pthread_key_create(&recorder.exit_key, OnThreadExit) != 0) return false;
  pthread_atfork(nullptr, nullptr, AfterForkInChild);
  return true;
}

void Lock(std::atomic<bool>& lock) {
  while (lock.exchange(true, std::memory_order_acquire)) sched_yield();
}

// Wakes the writer if it waits on recorder.wake_word.
void FutexWake() {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&recorder.wake_word),
          FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

}  // namespace

void WakeWriter() {
  std::atomic<uint32_t>& word = recorder.wake_word;
  if (word.load(std::memory_order_relaxed) != 0 ||
      word.exchange(1, std::memory_order_acq_rel) != 0) {
    return;
  }
  FutexWake();
}

void WakeWriterAlways() {
  recorder.wake_word.store(1);
  FutexWake();
}

uint16_t SizeClassTable::LargeClassOf(uint64_t size) const {
  uint32_t low = 0, high = nlarge;
  while (low < high) {
    uint32_t middle = (low + high) / 2;
    if (large_sizes[middle] < size) {
      low = middle + 1;
    } else {
      high = middle;
    }
  }
  return static_cast<uint16_t>(nbins + (low < nlarge ? low : nlarge - 1));
}

bool InitializeOrWait() {
  if (tls_state.busy > 0) return recorder.real.malloc != nullptr;
  RecorderState expected = RecorderState::kUninitialized;
  if (recorder.state.compare_exchange_strong(expected,
                                             RecorderState::kInitializing)) {
    ++tls_state.busy;
    const bool ok = Initialize();
    --tls_state.busy;
    recorder.state.store(ok ? RecorderState::kReady : RecorderState::kDisabled,
                         std::memory_order_release);
  } else {
    while (recorder.state.load(std::memory_order_acquire) ==
           RecorderState::kInitializing) {
      sched_yield();
    }
  }
  return recorder.real.malloc != nullptr;
}

SlotRing* AcquireRing(ThreadState& ts) {
  const uint32_t generation =
      recorder.generation.load(std::memory_order_relaxed);
  if (ts.generation != generation) {
    ts.ring = nullptr;
    ts.thread = 0;
    ts.shared = false;
    ts.generation = generation;
  }
  if (ts.thread == 0) ts.thread = recorder.threads.fetch_add(1) + 1;
  if (recorder.writer_start.load(std::memory_order_acquire) == 0) {
    MaybeStartWriter();
  }
  SlotRing* ring = nullptr;
  if (!ts.exiting) {
    Lock(ring_registry_lock);
    const uint32_t count = recorder.num_rings.load(std::memory_order_relaxed);
    for (uint32_t i = 1; i < count && ring == nullptr; ++i) {
      SlotRing* candidate = recorder.rings[i];
      if (candidate->state.load(std::memory_order_acquire) ==
              SlotRing::kUnused &&
          candidate->Empty()) {
        ring = candidate;
      }
    }
    if (ring == nullptr && count < kMaxRings) {
      ring = NewRing();
      if (ring != nullptr) {
        recorder.rings[count] = ring;
        recorder.num_rings.store(count + 1, std::memory_order_release);
      }
    }
    if (ring != nullptr) {
      ring->state.store(SlotRing::kOwned, std::memory_order_release);
    }
    ring_registry_lock.store(false, std::memory_order_release);
    // Only to be told when the thread exits; the value is never read.
    if (ring != nullptr) pthread_setspecific(recorder.exit_key, &recorder);
  }
  ts.shared = ring == nullptr;
  ts.ring = ring != nullptr ? ring : recorder.rings[0];
  return ts.ring;
}

Slot* SlotWriter::WaitForSpace() {
  const uint64_t start = MonotonicNs();
  Slot* slot = WaitUntilFree();
  recorder.ring_wait_ns.fetch_add(MonotonicNs() - start,
                                  std::memory_order_relaxed);
  return slot;
}

Slot* SlotWriter::WaitUntilFree() {
  // The writer drains every ring it can; a ring only stays full while the
  // writer is busy, so waiting is lossless and bounded.
  for (int round = 0;; ++round) {
    if (Slot* slot = ring_->NextFree()) return slot;
    // A child forked without atfork handlers (raw clone, _Fork) inherited a
    // writer that does not exist here: give the slot up rather than wait
    // forever. (State is left alone: a vfork child shares the parent's.)
    if (round == 0 && getpid() != recorder.pid) {
      recorder.lost_slots.fetch_add(1, std::memory_order_relaxed);
      return nullptr;
    }
    if (round == 0) recorder.ring_waits.fetch_add(1, std::memory_order_relaxed);
    if (!recorder.writer_alive.load(std::memory_order_acquire) &&
        (recorder.writer_start.load() != 1 || round > 100000)) {
      recorder.lost_slots.fetch_add(1, std::memory_order_relaxed);
      return nullptr;
    }
    if (round == 20000 && getenv("SLABTRACE_DEBUG") != nullptr) {
      char text[160];
      snprintf(text, sizeof(text), "ring %p capacity %u shared %d thread %u",
               static_cast<void*>(ring_), ring_->capacity(), ts_.shared,
               ts_.thread);
      WriteError("producer waits for space: ", text);
    }
    if (round < 64) {
      sched_yield();
    } else {
      struct timespec pause = {0, 50 * 1000};
      nanosleep(&pause, nullptr);
    }
  }
}

void MaybeStartWriter() {
  // Never from inside the dynamic loader: before the library constructor
  // has run, the writer waits (rings are large enough for start-up).
  if (!constructed.load(std::memory_order_acquire)) return;
  if (recorder.state.load() != RecorderState::kEnabled) return;
  int expected = 0;
  if (!recorder.writer_start.compare_exchange_strong(expected, 1)) return;
  ++tls_state.busy;
  const bool started = StartWriterThread();
  --tls_state.busy;
  recorder.writer_start.store(started ? 2 : 3, std::memory_order_release);
}

void FinishRecording() {
  if (recorder.state.load() != RecorderState::kEnabled) return;
  // A vfork child shares our memory but is not the recorded process.
  if (getpid() != recorder.pid) return;
  if (finished.exchange(true)) return;
  ++tls_state.busy;
  StopWriterThread();
  --tls_state.busy;
  recorder.state.store(RecorderState::kDisabled);
}

namespace {

void FinishAtExit() { FinishRecording(); }

__attribute__((constructor)) void StartRecorder() {
  EnsureInitialized();
  RecorderState ready = RecorderState::kReady;
  recorder.state.compare_exchange_strong(ready, RecorderState::kEnabled);
  constructed.store(true, std::memory_order_release);
  if (recorder.state.load() != RecorderState::kEnabled) return;
  ++tls_state.busy;
  const bool hooked = InstallHooks();
  --tls_state.busy;
  if (!hooked) {
    recorder.state.store(RecorderState::kDisabled);
    return;
  }
  // Runs before the program's own atexit handlers are registered, so after
  // them at exit, but before the static destructors of our dependencies.
  atexit(FinishAtExit);
  if (getenv("SLABTRACE_ROOT_PID") == nullptr) {
    char pid[24];
    int n = 0;
    char reversed[24];
    for (pid_t p = getpid(); p > 0 && n < 23; p /= 10) {
      reversed[n++] = static_cast<char>('0' + p % 10);
    }
    for (int i = 0; i < n; ++i) pid[i] = reversed[n - 1 - i];
    pid[n] = 0;
    ++tls_state.busy;  // setenv allocates: not an event of the program.
    setenv("SLABTRACE_ROOT_PID", pid, 0);
    --tls_state.busy;
  }
  MaybeStartWriter();
}

__attribute__((destructor)) void StopRecorder() { FinishRecording(); }

}  // namespace

}  // namespace record_internal
}  // namespace slabtrace
