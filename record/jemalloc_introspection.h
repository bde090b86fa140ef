// What the recorder reads from jemalloc itself through mallctl: the size
// class geometry (for the trace header) and statistics snapshots (for
// markers). Both describe the jemalloc this binary is linked with.
//
// ReadJemallocHeader promises a header that SlabGeometry::Create accepts,
// or an error naming the first bin whose geometry it cannot support
// (slab_size != lcm(page, size) or nregs * size != slab_size).
// ReadJemallocStats promises per-bin counters summed over every initialised
// arena except `excluded_arena` (the recorder's private one), so that they
// compare with the application's own allocations; allocated, active,
// resident and mapped leave that arena's share out too.

#ifndef SLABTRACE_RECORD_JEMALLOC_INTROSPECTION_H_
#define SLABTRACE_RECORD_JEMALLOC_INTROSPECTION_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/trace.pb.h"

namespace slabtrace {

// jemalloc's thread-cache options, as jemalloc 5.3's tcache_boot uses them.
struct TcacheOptions {
  bool enabled = true;
  uint32_t nhbins = 0;  // classes [0, nhbins) are cached.
  uint32_t nslots_small_min = 20;
  uint32_t nslots_small_max = 200;
  uint32_t nslots_large = 20;
  int64_t lg_nslots_mul = 1;
};

// ncached_max of one class, computed as jemalloc 5.3's
// tcache_ncached_max_compute() does (0 for classes the cache skips).
uint32_t TcacheNcachedMax(const TcacheOptions& options, uint32_t size_class,
                          uint32_t nbins, uint32_t slab_nregs);

// Fills size_classes, nbins, page_size, allocator, allocator_version,
// tcache_ncached_max and narenas of `header`.
absl::Status ReadJemallocHeader(TraceHeader* header);

inline constexpr unsigned kNoExcludedArena = ~0u;

// The mallctl entry points every read goes through. By default the ones this
// binary links; the recorder points them at a program's own jemalloc (for
// example upstream Redis's je_-prefixed copy) when it records through
// jemalloc's hooks.
struct MallctlApi {
  int (*mallctl)(const char* name, void* old, size_t* old_size, void* new_value,
                 size_t new_size);
  int (*nametomib)(const char* name, size_t* mib, size_t* mib_length);
  int (*bymib)(const size_t* mib, size_t mib_length, void* old,
               size_t* old_size, void* new_value, size_t new_size);
};
void UseMallctlApi(const MallctlApi& api);
const MallctlApi& CurrentMallctlApi();

// Refreshes jemalloc's statistics ("epoch") and reads them.
absl::StatusOr<AllocatorStats> ReadJemallocStats(
    unsigned excluded_arena = kNoExcludedArena);

}  // namespace slabtrace

#endif  // SLABTRACE_RECORD_JEMALLOC_INTROSPECTION_H_
