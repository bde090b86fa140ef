#include "record/internal/real_jemalloc.h"

#include <dlfcn.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

namespace slabtrace {
namespace record_internal {
alignas(64) char bootstrap_buffer[kBootstrapBytes]
    __attribute__((visibility("hidden")));

namespace {

std::atomic<size_t> bootstrap_used{0};

template <typename Fn>
bool Lookup(void* handle, const char* prefix, const char* name, Fn* out) {
  char full[64];
  const size_t prefix_length = std::strlen(prefix);
  const size_t name_length = std::strlen(name);
  if (prefix_length + name_length >= sizeof(full)) return false;
  std::memcpy(full, prefix, prefix_length);
  std::memcpy(full + prefix_length, name, name_length + 1);
  void* symbol = dlsym(handle, full);
  if (symbol == nullptr) {
    WriteError("jemalloc has no symbol ", full);
    return false;
  }
  *out = reinterpret_cast<Fn>(symbol);
  return true;
}

}  // namespace

void WriteError(const char* message, const char* detail) {
  // write(2) only: this runs inside malloc, possibly before stdio exists.
  auto put = [](const char* s) {
    if (s != nullptr) (void)!::write(2, s, std::strlen(s));
  };
  put("slabtrace-record: ");
  put(message);
  put(detail);
  put("\n");
}

bool RealJemalloc::Resolve() {
  // RTLD_NOLOAD: use the copy the process (or our own DT_NEEDED) already
  // mapped; never load a second allocator.
  void* handle = dlopen("libjemalloc.so.2", RTLD_NOLOAD | RTLD_LAZY);
  if (handle == nullptr) {
    WriteError("libjemalloc.so.2 is not loaded; recording disabled");
    return false;
  }
  return ResolveIn(handle, "");
}

bool RealJemalloc::ResolveIn(void* handle, const char* prefix) {
  const char* p = prefix;
  return Lookup(handle, p, "malloc", &malloc) &&
         Lookup(handle, p, "calloc", &calloc) &&
         Lookup(handle, p, "realloc", &realloc) &&
         Lookup(handle, p, "free", &free) &&
         Lookup(handle, p, "posix_memalign", &posix_memalign) &&
         Lookup(handle, p, "aligned_alloc", &aligned_alloc) &&
         Lookup(handle, p, "memalign", &memalign) &&
         Lookup(handle, p, "valloc", &valloc) &&
         Lookup(handle, p, "malloc_usable_size", &malloc_usable_size) &&
         Lookup(handle, p, "mallocx", &mallocx) &&
         Lookup(handle, p, "rallocx", &rallocx) &&
         Lookup(handle, p, "xallocx", &xallocx) &&
         Lookup(handle, p, "dallocx", &dallocx) &&
         Lookup(handle, p, "sdallocx", &sdallocx) &&
         Lookup(handle, p, "mallctl", &mallctl);
}

void* BootstrapAlloc(size_t size, size_t alignment) {
  if (alignment < 16) alignment = 16;
  // A 16-byte header before each block keeps its size for realloc.
  size_t used = bootstrap_used.load(std::memory_order_relaxed);
  for (;;) {
    size_t start = (used + 16 + alignment - 1) & ~(alignment - 1);
    size_t end = start + size;
    if (end > kBootstrapBytes) return nullptr;
    if (bootstrap_used.compare_exchange_weak(used, end)) {
      std::memcpy(bootstrap_buffer + start - 16, &size, sizeof(size));
      return bootstrap_buffer + start;
    }
  }
}

size_t BootstrapUsableSize(const void* ptr) {
  size_t size;
  std::memcpy(&size, static_cast<const char*>(ptr) - 16, sizeof(size));
  return size;
}

}  // namespace record_internal
}  // namespace slabtrace
