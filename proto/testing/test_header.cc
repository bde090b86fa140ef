#include "proto/testing/test_header.h"

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <vector>

namespace slabtrace {
namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kLargestSmall = 14336;
constexpr uint64_t kLargestLarge = uint64_t{4} << 30;
constexpr uint64_t kTcacheMax = 32 * 1024;

// jemalloc's size classes with LG_QUANTUM = 4: 8, then 16-byte steps to 128,
// then four classes per doubling.
std::vector<uint64_t> ClassSizes() {
  std::vector<uint64_t> sizes = {8};
  for (uint64_t s = 16; s <= 128; s += 16) sizes.push_back(s);
  for (uint64_t base = 128; sizes.back() < kLargestLarge; base *= 2) {
    for (uint64_t step = 1; step <= 4; ++step) {
      sizes.push_back(base + step * base / 4);
    }
  }
  return sizes;
}

}  // namespace

TraceHeader JemallocTestHeader() {
  TraceHeader header;
  header.set_recorder_version("test");
  header.set_clock("CLOCK_MONOTONIC");
  header.set_time_resolution_ns(1000);
  header.set_page_size(kPage);
  header.set_allocator("jemalloc");
  header.set_allocator_version("5.3.0-test");
  header.set_narenas(1);
  uint32_t index = 0;
  uint32_t nbins = 0;
  for (uint64_t size : ClassSizes()) {
    SizeClass* c = header.add_size_classes();
    c->set_index(index++);
    c->set_size(size);
    uint32_t ncached = 0;
    if (size <= kLargestSmall) {
      const uint64_t slab = std::lcm(kPage, size);
      c->set_slab_size(slab);
      c->set_nregs(static_cast<uint32_t>(slab / size));
      ncached = std::clamp<uint32_t>(2 * c->nregs(), 20, 200);
      ++nbins;
    } else if (size <= kTcacheMax) {
      ncached = 20;
    }
    header.add_tcache_ncached_max(ncached);
  }
  header.set_nbins(nbins);
  return header;
}

}  // namespace slabtrace
