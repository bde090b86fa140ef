// IndexSet is a set of slab indices with O(1) insert/erase and a fast
// lowest-element query: a bitmap plus a one-bit-per-word summary. For slabs
// whose address the allocator assigned (every policy but recorded/compact),
// index order is address order, so "lowest index" is "lowest address".

#ifndef SLABTRACE_SIM_INTERNAL_INDEX_SET_H_
#define SLABTRACE_SIM_INTERNAL_INDEX_SET_H_

#include <cstdint>
#include <vector>

namespace slabtrace {
namespace sim_internal {

class IndexSet {
 public:
  static constexpr uint32_t kNone = ~uint32_t{0};

  void Insert(uint32_t i) {
    const uint32_t w = i / 64;
    if (w >= words_.size()) {
      words_.resize(w + 1, 0);
      summary_.resize(w / 64 + 1, 0);
    }
    const uint64_t bit = uint64_t{1} << (i % 64);
    if ((words_[w] & bit) == 0) ++count_;
    words_[w] |= bit;
    summary_[w / 64] |= uint64_t{1} << (w % 64);
  }
  void Erase(uint32_t i) {
    const uint32_t w = i / 64;
    if (w >= words_.size()) return;
    const uint64_t bit = uint64_t{1} << (i % 64);
    if ((words_[w] & bit) == 0) return;
    --count_;
    words_[w] &= ~bit;
    if (words_[w] == 0) summary_[w / 64] &= ~(uint64_t{1} << (w % 64));
  }
  bool empty() const { return count_ == 0; }
  uint32_t First() const {
    if (count_ == 0) return kNone;
    for (size_t s = 0; s < summary_.size(); ++s) {
      if (summary_[s] == 0) continue;
      const size_t w = s * 64 + __builtin_ctzll(summary_[s]);
      return static_cast<uint32_t>(w * 64 + __builtin_ctzll(words_[w]));
    }
    return kNone;
  }

 private:
  std::vector<uint64_t> words_;
  std::vector<uint64_t> summary_;
  uint64_t count_ = 0;
};

}  // namespace sim_internal
}  // namespace slabtrace

#endif  // SLABTRACE_SIM_INTERNAL_INDEX_SET_H_
