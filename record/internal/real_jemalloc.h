// RealJemalloc holds jemalloc's own entry points, found with dlsym in the
// loaded libjemalloc.so.2, so that the interposer can forward each call to
// the allocator it shadows. Also a tiny bootstrap arena for the few
// allocations dlopen/dlsym make before those pointers are known.
//
// Free of absl: used before any library constructor has run.

#ifndef SLABTRACE_RECORD_INTERNAL_REAL_JEMALLOC_H_
#define SLABTRACE_RECORD_INTERNAL_REAL_JEMALLOC_H_

#include <cstddef>
#include <cstdint>

namespace slabtrace {
namespace record_internal {

struct RealJemalloc {
  void* (*malloc)(size_t) = nullptr;
  void* (*calloc)(size_t, size_t) = nullptr;
  void* (*realloc)(void*, size_t) = nullptr;
  void (*free)(void*) = nullptr;
  int (*posix_memalign)(void**, size_t, size_t) = nullptr;
  void* (*aligned_alloc)(size_t, size_t) = nullptr;
  void* (*memalign)(size_t, size_t) = nullptr;
  void* (*valloc)(size_t) = nullptr;
  size_t (*malloc_usable_size)(void*) = nullptr;
  void* (*mallocx)(size_t, int) = nullptr;
  void* (*rallocx)(void*, size_t, int) = nullptr;
  size_t (*xallocx)(void*, size_t, size_t, int) = nullptr;
  void (*dallocx)(void*, int) = nullptr;
  void (*sdallocx)(void*, size_t, int) = nullptr;
  int (*mallctl)(const char*, void*, size_t*, void*, size_t) = nullptr;

  // Resolves every pointer; false (with a message on stderr) if
  // libjemalloc.so.2 is not loaded or lacks one of them.
  bool Resolve();
  // The same from `handle` (a dlopen handle or RTLD_DEFAULT), with `prefix`
  // before each name ("je_" for a prefixed jemalloc).
  bool ResolveIn(void* handle, const char* prefix);
};

// Bump allocator over a static buffer, for the calls dlopen/dlsym make
// while RealJemalloc::Resolve() runs. Its blocks are never freed.
void* BootstrapAlloc(size_t size, size_t alignment = 16);
size_t BootstrapUsableSize(const void* ptr);

inline constexpr size_t kBootstrapBytes = 64 * 1024;
extern char bootstrap_buffer[kBootstrapBytes]
    __attribute__((visibility("hidden")));

// Inline: every interposed free and malloc_usable_size asks.
inline bool IsBootstrapPointer(const void* ptr) {
  return reinterpret_cast<uintptr_t>(ptr) -
             reinterpret_cast<uintptr_t>(bootstrap_buffer) <
         kBootstrapBytes;
}

// Writes a line to stderr without allocating.
void WriteError(const char* message, const char* detail = nullptr);

}  // namespace record_internal
}  // namespace slabtrace

#endif  // SLABTRACE_RECORD_INTERNAL_REAL_JEMALLOC_H_
