#include "sim/internal/meshing.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace slabtrace {
namespace sim_internal {
namespace {

// Is some region occupied in both slabs? The bitmaps mark free regions;
// bits past capacity are clear (look occupied), hence the mask.
bool Overlap(const SlabTable& slabs, uint32_t a, uint32_t b) {
  const auto fa = slabs.free_bitmap(a);
  const auto fb = slabs.free_bitmap(b);
  const uint32_t capacity = slabs.capacity();
  for (size_t w = 0; w < fa.size(); ++w) {
    const uint32_t bits = capacity - static_cast<uint32_t>(w) * 64;
    const uint64_t mask = bits >= 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
    if ((~fa[w] & ~fb[w] & mask) != 0) return true;
  }
  return false;
}

}  // namespace

uint64_t MeshedSlabCount(const SlabTable& slabs) {
  std::vector<std::pair<uint64_t, uint32_t>> order;
  order.reserve(slabs.live_slabs());
  for (uint32_t s = 0; s < slabs.index_limit(); ++s) {
    if (slabs.live(s)) order.push_back({slabs.address(s), s});
  }
  std::sort(order.begin(), order.end());
  const uint32_t capacity = slabs.capacity();
  std::vector<bool> paired(order.size(), false);
  uint64_t pairs = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    if (paired[i]) continue;
    const uint32_t a = order[i].second;
    if (slabs.fill(a) == capacity) continue;  // meshes with nothing.
    int probes = 0;
    for (size_t j = i + 1; j < order.size() && probes < kMeshProbes; ++j) {
      if (paired[j]) continue;
      ++probes;
      const uint32_t b = order[j].second;
      if (slabs.fill(a) + slabs.fill(b) > capacity) continue;
      if (Overlap(slabs, a, b)) continue;
      paired[i] = paired[j] = true;
      ++pairs;
      break;
    }
  }
  return order.size() - pairs;
}

}  // namespace sim_internal
}  // namespace slabtrace
