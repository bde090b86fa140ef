// The interposed malloc API: every entry point of the C allocator, of
// jemalloc's non-standard API and of C++ operator new/delete. Each forwards
// to jemalloc and records one slot (see recorder.h for the ordering rules).
//
// Everything here runs inside the application's allocation calls: no
// allocation, no locks on the common path, no absl.

#include <errno.h>
#include <jemalloc/jemalloc.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <new>

#include "proto/event.h"
#include "record/internal/recorder.h"

namespace slabtrace {
namespace record_internal {
namespace {

#define SLABTRACE_EXPORT extern "C" __attribute__((visibility("default")))

inline bool Unlikely(bool condition) { return __builtin_expect(condition, 0); }

inline uint16_t ClassOfBlock(void* ptr) {
  return recorder.classes.ClassOf(recorder.real.malloc_usable_size(ptr));
}

inline uint8_t Api(AllocApi api) { return static_cast<uint8_t>(api); }

// How the size class of a new block is found: from the requested size when
// no alignment was asked for (jemalloc then serves exactly the smallest
// class that fits, and this saves a radix-tree lookup per call), else from
// the block's usable size.
enum class ClassFrom { kRequestedSize, kBlock };

inline uint16_t ClassOfNewBlock(void* ptr, uint64_t size, ClassFrom from) {
  return from == ClassFrom::kRequestedSize ? recorder.classes.ClassOf(size)
                                           : ClassOfBlock(ptr);
}

// MALLOCX_LG_ALIGN bits of a flags word.
inline ClassFrom ClassFromFlags(int flags) {
  return (flags & 0x3f) == 0 ? ClassFrom::kRequestedSize : ClassFrom::kBlock;
}

// After the real call: the block is live now, so its ticket must come
// after the call (anyone who freed this address before took a smaller one).
void RecordAlloc(AllocApi api, void* ptr, uint64_t size, ClassFrom from,
                 CallOutcome success = CallOutcome::kPlain) {
  const uint16_t size_class =
      ptr != nullptr ? ClassOfNewBlock(ptr, size, from) : 0;
  SlotWriter writer;
  Slot* slot = writer.TakeTicket();
  if (slot == nullptr) return;
  slot->api = Api(api);
  slot->ptr = reinterpret_cast<uintptr_t>(ptr);
  slot->size = size;
  slot->size_class = size_class;
  if (ptr != nullptr) {
    slot->type = SlotType::kAlloc;
    slot->outcome = success;
  } else {
    slot->type = SlotType::kNoEvent;
    slot->outcome = CallOutcome::kFailed;
  }
  writer.Publish();
}

// Before the real call: once the block is free, another thread may get it
// and take its own ticket, which must come after ours.
void RecordFree(AllocApi api, void* ptr, uint64_t size_passed) {
  const uint16_t size_class = ptr != nullptr ? ClassOfBlock(ptr) : 0;
  SlotWriter writer;
  Slot* slot = writer.TakeTicket();
  if (slot == nullptr) return;
  slot->api = Api(api);
  slot->ptr = reinterpret_cast<uintptr_t>(ptr);
  slot->size = size_passed;
  slot->size_class = size_class;
  if (ptr != nullptr) {
    slot->type = SlotType::kFree;
  } else {
    slot->type = SlotType::kNoEvent;
    slot->outcome = CallOutcome::kNull;
  }
  writer.Publish();
}

// --- Unrecorded service: before initialisation, inside the recorder, or
// after recording stopped. ---

void* UnrecordedAllocate(size_t size, size_t alignment, bool zero) {
  if (!EnsureInitialized()) {
    void* ptr = BootstrapAlloc(size, alignment);
    if (ptr != nullptr && zero) std::memset(ptr, 0, size);
    return ptr;
  }
  int flags = zero ? MALLOCX_ZERO : 0;
  if (alignment > 16) flags |= MALLOCX_ALIGN(alignment);
  if (tls_state.busy > 0) flags |= recorder.private_flags;
  if (flags == 0) return recorder.real.malloc(size);
  return recorder.real.mallocx(size == 0 ? 1 : size, flags);
}

void UnrecordedFree(void* ptr) {
  if (ptr == nullptr || IsBootstrapPointer(ptr)) return;
  if (!EnsureInitialized()) return;
  // The recorder's own blocks bypass the thread cache: cached there, they
  // would be handed to the application from the private arena.
  if (tls_state.busy > 0 && recorder.private_flags != 0) {
    recorder.real.dallocx(ptr, MALLOCX_TCACHE_NONE);
    return;
  }
  recorder.real.free(ptr);
}

void* UnrecordedRealloc(void* ptr, size_t size) {
  if (ptr == nullptr) return UnrecordedAllocate(size, 0, false);
  if (IsBootstrapPointer(ptr)) {
    void* moved = UnrecordedAllocate(size, 0, false);
    if (moved != nullptr) {
      const size_t old_size = BootstrapUsableSize(ptr);
      std::memcpy(moved, ptr, old_size < size ? old_size : size);
    }
    return moved;
  }
  if (!EnsureInitialized()) return nullptr;
  if (tls_state.busy > 0 && recorder.private_flags != 0) {
    if (size == 0) {
      recorder.real.dallocx(ptr, MALLOCX_TCACHE_NONE);
      return nullptr;
    }
    return recorder.real.rallocx(ptr, size, recorder.private_flags);
  }
  return recorder.real.realloc(ptr, size);
}

// With jemalloc's hooks as the way in (hooks.h), the hooks record and the
// interposer only forwards.
inline bool Record() {
  if (Unlikely(!ShouldRecord())) {
    EnsureInitialized();
    return ShouldRecord() && !recorder.use_hooks;
  }
  return !recorder.use_hooks;
}

// An in-place resize whose ticket T1 was taken before the call, now in
// `slot`. A shrink must keep T1 (the freed tail may be reused by another
// thread at once); a grow took pages that another thread may have freed just
// before, after T1, so its event takes a second ticket T2 after the call and
// T1 becomes a no-event slot that carries the call's count.
void PublishResize(SlotWriter& writer, Slot* slot, uint16_t old_class,
                   uint16_t new_class) {
  slot->type = SlotType::kResize;
  slot->size_class = new_class;
  slot->outcome = CallOutcome::kInPlace;
  if (new_class <= old_class) {
    writer.Publish();
    return;
  }
  const uint64_t second =
      recorder.tickets.fetch_add(1, std::memory_order_acq_rel);
  if (second & kStoppedBit) {
    writer.Publish();
    return;
  }
  const AllocApi api = static_cast<AllocApi>(slot->api);
  const uint64_t ptr = slot->ptr;
  const uint64_t size = slot->size;
  slot->type = SlotType::kNoEvent;
  writer.Publish();
  if (Slot* grown = writer.TakeSlotFor(second)) {
    grown->api = Api(api);
    grown->ptr = ptr;
    grown->size = size;
    grown->size_class = new_class;
    grown->type = SlotType::kResize;
    grown->outcome = CallOutcome::kSecondHalf;
    writer.Publish();
  }
}

// realloc and rallocx. T1 before the call (it may free `ptr`), T2 after a
// move (it made a new block live); the writer places the pair between them.
template <typename Call>
void* RecordedRealloc(AllocApi api, void* ptr, size_t size, ClassFrom from,
                      Call call) {
  const uint16_t old_class = ClassOfBlock(ptr);
  SlotWriter writer;
  Slot* slot = writer.TakeTicket();
  void* result = call();
  if (slot == nullptr) return result;
  slot->api = Api(api);
  slot->size = size;
  slot->ptr = reinterpret_cast<uintptr_t>(ptr);
  slot->size_class = old_class;
  if (result == nullptr) {
    if (size == 0) {  // jemalloc 5.3, opt.zero_realloc=free: ptr is gone.
      slot->type = SlotType::kFree;
      slot->size = 0;
      slot->outcome = CallOutcome::kFreed;
    } else {
      slot->type = SlotType::kNoEvent;
      slot->outcome = CallOutcome::kFailed;
    }
    writer.Publish();
    return result;
  }
  const uint16_t new_class = ClassOfNewBlock(result, size, from);
  if (result == ptr) {
    PublishResize(writer, slot, old_class, new_class);
    return result;
  }
  slot->type = SlotType::kMoved;
  slot->outcome = CallOutcome::kMoved;
  slot->ptr = reinterpret_cast<uintptr_t>(result);
  slot->size_class = new_class;
  slot->old_ptr = reinterpret_cast<uintptr_t>(ptr);
  slot->old_size_class = old_class;
  const uint64_t first = slot->ticket;
  const uint64_t second =
      recorder.tickets.fetch_add(1, std::memory_order_acq_rel);
  const bool stopped = (second & kStoppedBit) != 0;
  slot->aux = stopped ? 0 : second;
  writer.Publish();
  if (!stopped) writer.PublishContinuation(second, first);
  return result;
}

void* Realloc(AllocApi api, void* ptr, size_t size) {
  if (!Record() || (ptr != nullptr && IsBootstrapPointer(ptr))) {
    return UnrecordedRealloc(ptr, size);
  }
  if (ptr == nullptr) {
    void* result = recorder.real.realloc(nullptr, size);
    RecordAlloc(api, result, size, ClassFrom::kRequestedSize,
                CallOutcome::kFromNull);
    return result;
  }
  return RecordedRealloc(api, ptr, size, ClassFrom::kRequestedSize,
                         [&] { return recorder.real.realloc(ptr, size); });
}

void Free(AllocApi api, void* ptr, uint64_t size_passed) {
  if (!Record() || (ptr != nullptr && IsBootstrapPointer(ptr))) {
    UnrecordedFree(ptr);
    return;
  }
  RecordFree(api, ptr, size_passed);
  if (ptr != nullptr) recorder.real.free(ptr);
}

// operator new: retry through the new_handler, as the standard asks.
void* NewImpl(AllocApi api, size_t size, size_t alignment, bool nothrow) {
  if (!Record()) {
    void* ptr = UnrecordedAllocate(size, alignment, false);
    if (ptr == nullptr && !nothrow) throw std::bad_alloc();
    return ptr;
  }
  void* ptr;
  for (;;) {
    ptr = alignment > 16 ? recorder.real.mallocx(size == 0 ? 1 : size,
                                                 MALLOCX_ALIGN(alignment))
                         : recorder.real.malloc(size);
    if (ptr != nullptr) break;
    std::new_handler handler = std::get_new_handler();
    if (handler == nullptr) break;
    handler();
  }
  RecordAlloc(api, ptr, size,
              alignment > 16 ? ClassFrom::kBlock : ClassFrom::kRequestedSize);
  if (ptr == nullptr && !nothrow) throw std::bad_alloc();
  return ptr;
}

void DeleteImpl(AllocApi api, void* ptr, size_t size, size_t alignment) {
  if (!Record() || (ptr != nullptr && IsBootstrapPointer(ptr))) {
    UnrecordedFree(ptr);
    return;
  }
  RecordFree(api, ptr, size);
  if (ptr == nullptr) return;
  if (size != 0) {
    recorder.real.sdallocx(ptr, size,
                           alignment > 16 ? MALLOCX_ALIGN(alignment) : 0);
  } else {
    recorder.real.free(ptr);
  }
}

}  // namespace
}  // namespace record_internal
}  // namespace slabtrace

using slabtrace::AllocApi;
using namespace slabtrace::record_internal;  // NOLINT: C ABI glue only.

SLABTRACE_EXPORT void* malloc(size_t size) noexcept {
  if (Unlikely(!Record())) return UnrecordedAllocate(size, 0, false);
  void* ptr = recorder.real.malloc(size);
  RecordAlloc(AllocApi::kMalloc, ptr, size, ClassFrom::kRequestedSize);
  return ptr;
}

SLABTRACE_EXPORT void* calloc(size_t count, size_t size) noexcept {
  if (Unlikely(!Record())) {
    size_t total;
    if (__builtin_mul_overflow(count, size, &total)) return nullptr;
    return UnrecordedAllocate(total, 0, true);
  }
  void* ptr = recorder.real.calloc(count, size);
  RecordAlloc(AllocApi::kCalloc, ptr, uint64_t{count} * size,
              ClassFrom::kRequestedSize);
  return ptr;
}

SLABTRACE_EXPORT void* realloc(void* ptr, size_t size) noexcept {
  return Realloc(AllocApi::kRealloc, ptr, size);
}

SLABTRACE_EXPORT void* reallocarray(void* ptr, size_t count,
                                    size_t size) noexcept {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) {
    if (Record()) {
      RecordAlloc(AllocApi::kReallocarray, nullptr, 0, ClassFrom::kBlock);
    }
    errno = ENOMEM;
    return nullptr;
  }
  return Realloc(AllocApi::kReallocarray, ptr, total);
}

SLABTRACE_EXPORT void free(void* ptr) noexcept {
  Free(AllocApi::kFree, ptr, 0);
}

SLABTRACE_EXPORT int posix_memalign(void** out, size_t alignment,
                                    size_t size) noexcept {
  if (Unlikely(!Record())) {
    if (alignment < sizeof(void*) || (alignment & (alignment - 1)) != 0) {
      return EINVAL;
    }
    *out = UnrecordedAllocate(size, alignment, false);
    return *out != nullptr ? 0 : ENOMEM;
  }
  const int error = recorder.real.posix_memalign(out, alignment, size);
  RecordAlloc(AllocApi::kPosixMemalign, error == 0 ? *out : nullptr, size,
              ClassFrom::kBlock);
  return error;
}

SLABTRACE_EXPORT void* aligned_alloc(size_t alignment, size_t size) noexcept {
  if (Unlikely(!Record())) return UnrecordedAllocate(size, alignment, false);
  void* ptr = recorder.real.aligned_alloc(alignment, size);
  RecordAlloc(AllocApi::kAlignedAlloc, ptr, size, ClassFrom::kBlock);
  return ptr;
}

SLABTRACE_EXPORT void* memalign(size_t alignment, size_t size) noexcept {
  if (Unlikely(!Record())) return UnrecordedAllocate(size, alignment, false);
  void* ptr = recorder.real.memalign(alignment, size);
  RecordAlloc(AllocApi::kMemalign, ptr, size, ClassFrom::kBlock);
  return ptr;
}

SLABTRACE_EXPORT void* valloc(size_t size) noexcept {
  if (Unlikely(!Record())) return UnrecordedAllocate(size, 4096, false);
  void* ptr = recorder.real.valloc(size);
  RecordAlloc(AllocApi::kValloc, ptr, size, ClassFrom::kBlock);
  return ptr;
}

// glibc's; jemalloc has none. Page-aligned, rounded up to whole pages.
SLABTRACE_EXPORT void* pvalloc(size_t size) noexcept {
  if (Unlikely(!Record())) return UnrecordedAllocate(size, 4096, false);
  const size_t page = recorder.classes.page;
  size_t rounded = (size + page - 1) & ~(page - 1);
  if (rounded == 0) rounded = page;
  void* ptr = recorder.real.memalign(page, rounded);
  RecordAlloc(AllocApi::kPvalloc, ptr, size, ClassFrom::kBlock);
  return ptr;
}

SLABTRACE_EXPORT size_t malloc_usable_size(void* ptr) noexcept {
  if (ptr == nullptr) return 0;
  if (IsBootstrapPointer(ptr)) return BootstrapUsableSize(ptr);
  if (!EnsureInitialized()) return 0;
  return recorder.real.malloc_usable_size(ptr);
}

SLABTRACE_EXPORT void* mallocx(size_t size, int flags) {
  if (Unlikely(!Record())) {
    if (!EnsureInitialized()) return BootstrapAlloc(size);
    return recorder.real.mallocx(size, flags);
  }
  void* ptr = recorder.real.mallocx(size, flags);
  RecordAlloc(AllocApi::kMallocx, ptr, size, ClassFromFlags(flags));
  return ptr;
}

SLABTRACE_EXPORT void* rallocx(void* ptr, size_t size, int flags) {
  if (Unlikely(!Record()) || IsBootstrapPointer(ptr)) {
    if (IsBootstrapPointer(ptr)) return UnrecordedRealloc(ptr, size);
    return recorder.real.rallocx(ptr, size, flags);
  }
  return RecordedRealloc(
      AllocApi::kRallocx, ptr, size, ClassFromFlags(flags),
      [&] { return recorder.real.rallocx(ptr, size, flags); });
}

SLABTRACE_EXPORT size_t xallocx(void* ptr, size_t size, size_t extra,
                                int flags) {
  if (Unlikely(!Record()) || IsBootstrapPointer(ptr)) {
    if (IsBootstrapPointer(ptr)) return BootstrapUsableSize(ptr);
    return recorder.real.xallocx(ptr, size, extra, flags);
  }
  // Never moves, but may shrink or grow in place: T1 before the call, and a
  // grow takes T2 after it (PublishResize).
  const uint16_t old_class = ClassOfBlock(ptr);
  SlotWriter writer;
  Slot* slot = writer.TakeTicket();
  const size_t usable = recorder.real.xallocx(ptr, size, extra, flags);
  if (slot == nullptr) return usable;
  slot->api = Api(AllocApi::kXallocx);
  slot->ptr = reinterpret_cast<uintptr_t>(ptr);
  slot->size = size;
  if (usable < size) {
    slot->type = SlotType::kNoEvent;
    slot->outcome = CallOutcome::kFailed;
    writer.Publish();
    return usable;
  }
  PublishResize(writer, slot, old_class, recorder.classes.ClassOf(usable));
  return usable;
}

SLABTRACE_EXPORT void dallocx(void* ptr, int flags) {
  if (Unlikely(!Record()) || IsBootstrapPointer(ptr)) {
    if (!IsBootstrapPointer(ptr)) recorder.real.dallocx(ptr, flags);
    return;
  }
  RecordFree(AllocApi::kDallocx, ptr, 0);
  recorder.real.dallocx(ptr, flags);
}

SLABTRACE_EXPORT void sdallocx(void* ptr, size_t size, int flags) {
  if (Unlikely(!Record()) || IsBootstrapPointer(ptr)) {
    if (!IsBootstrapPointer(ptr)) recorder.real.sdallocx(ptr, size, flags);
    return;
  }
  RecordFree(AllocApi::kSdallocx, ptr, size);
  recorder.real.sdallocx(ptr, size, flags);
}

// _exit skips atexit handlers; finish the trace first (Redis's BGSAVE
// child leaves through _exit).
SLABTRACE_EXPORT void _exit(int status) {
  FinishRecording();
  for (;;) syscall(SYS_exit_group, status);
}

SLABTRACE_EXPORT void _Exit(int status) {
  FinishRecording();
  for (;;) syscall(SYS_exit_group, status);
}

// --- C++ operator new/delete, every form. ---

void* operator new(size_t size) {
  return NewImpl(AllocApi::kOperatorNew, size, 0, false);
}
void* operator new(size_t size, const std::nothrow_t&) noexcept {
  return NewImpl(AllocApi::kOperatorNew, size, 0, true);
}
void* operator new(size_t size, std::align_val_t alignment) {
  return NewImpl(AllocApi::kOperatorNew, size, static_cast<size_t>(alignment),
                 false);
}
void* operator new(size_t size, std::align_val_t alignment,
                   const std::nothrow_t&) noexcept {
  return NewImpl(AllocApi::kOperatorNew, size, static_cast<size_t>(alignment),
                 true);
}
void* operator new[](size_t size) {
  return NewImpl(AllocApi::kOperatorNewArray, size, 0, false);
}
void* operator new[](size_t size, const std::nothrow_t&) noexcept {
  return NewImpl(AllocApi::kOperatorNewArray, size, 0, true);
}
void* operator new[](size_t size, std::align_val_t alignment) {
  return NewImpl(AllocApi::kOperatorNewArray, size,
                 static_cast<size_t>(alignment), false);
}
void* operator new[](size_t size, std::align_val_t alignment,
                     const std::nothrow_t&) noexcept {
  return NewImpl(AllocApi::kOperatorNewArray, size,
                 static_cast<size_t>(alignment), true);
}

void operator delete(void* ptr) noexcept {
  DeleteImpl(AllocApi::kOperatorDelete, ptr, 0, 0);
}
void operator delete(void* ptr, const std::nothrow_t&) noexcept {
  DeleteImpl(AllocApi::kOperatorDelete, ptr, 0, 0);
}
void operator delete(void* ptr, size_t size) noexcept {
  DeleteImpl(AllocApi::kOperatorDelete, ptr, size, 0);
}
void operator delete(void* ptr, std::align_val_t alignment) noexcept {
  DeleteImpl(AllocApi::kOperatorDelete, ptr, 0, static_cast<size_t>(alignment));
}
void operator delete(void* ptr, std::align_val_t alignment,
                     const std::nothrow_t&) noexcept {
  DeleteImpl(AllocApi::kOperatorDelete, ptr, 0, static_cast<size_t>(alignment));
}
void operator delete(void* ptr, size_t size,
                     std::align_val_t alignment) noexcept {
  DeleteImpl(AllocApi::kOperatorDelete, ptr, size,
             static_cast<size_t>(alignment));
}
void operator delete[](void* ptr) noexcept {
  DeleteImpl(AllocApi::kOperatorDeleteArray, ptr, 0, 0);
}
void operator delete[](void* ptr, const std::nothrow_t&) noexcept {
  DeleteImpl(AllocApi::kOperatorDeleteArray, ptr, 0, 0);
}
void operator delete[](void* ptr, size_t size) noexcept {
  DeleteImpl(AllocApi::kOperatorDeleteArray, ptr, size, 0);
}
void operator delete[](void* ptr, std::align_val_t alignment) noexcept {
  DeleteImpl(AllocApi::kOperatorDeleteArray, ptr, 0,
             static_cast<size_t>(alignment));
}
void operator delete[](void* ptr, std::align_val_t alignment,
                       const std::nothrow_t&) noexcept {
  DeleteImpl(AllocApi::kOperatorDeleteArray, ptr, 0,
             static_cast<size_t>(alignment));
}
void operator delete[](void* ptr, size_t size,
                       std::align_val_t alignment) noexcept {
  DeleteImpl(AllocApi::kOperatorDeleteArray, ptr, size,
             static_cast<size_t>(alignment));
}
