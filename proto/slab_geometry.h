// SlabGeometry maps (pointer, size class) to the granule the pointer lives
// in, using only the size-class table of a trace header.
//
// jemalloc 5.3 with its default slab sizes makes every slab exactly
// lcm(page size, region size) bytes long. A slab base B is page aligned and
// every region starts at B + k * size, so B is the unique page-aligned
// address in (ptr - slab_size, ptr] congruent to ptr modulo size. The region
// index k depends only on ptr mod page, which a small per-class table turns
// into k in O(1). Create() refuses any table for which this does not hold,
// so a trace whose geometry is not supported fails loudly instead of
// reporting wrong slabs.

#ifndef SLABTRACE_PROTO_SLAB_GEOMETRY_H_
#define SLABTRACE_PROTO_SLAB_GEOMETRY_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/trace.pb.h"

namespace slabtrace {

class SlabGeometry {
 public:
  static absl::StatusOr<SlabGeometry> Create(const TraceHeader& header);

  int num_classes() const { return static_cast<int>(classes_.size()); }
  int nbins() const { return nbins_; }
  uint64_t page_size() const { return page_size_; }
  bool is_small(uint32_t size_class) const { return size_class < nbins_; }
  uint64_t region_size(uint32_t size_class) const;
  uint64_t slab_size(uint32_t size_class) const;  // 0 for large classes.
  uint32_t nregs(uint32_t size_class) const;      // 0 for large classes.
  // Bytes a granule of this class occupies: the slab size for small
  // classes; for large ones the class size rounded up to pages plus the
  // header's large_extent_pad (jemalloc's cache-oblivious page).
  uint64_t granule_bytes(uint32_t size_class) const;

  // The granule address of `ptr` in `size_class`. For a small class, the
  // slab base; for a large class, ptr rounded down to the page (jemalloc
  // offsets large pointers within their first page for cache obliviousness).
  // Returns 0 when size_class is out of range or ptr cannot start a region
  // of that class.
  // Inline: the reader calls it for every event.
  uint64_t GranuleOf(uint64_t ptr, uint32_t size_class) const {
    if (size_class >= classes_.size()) return 0;
    if (size_class >= nbins_) return ptr & ~(page_size_ - 1);
    const ClassGeometry& g = classes_[size_class];
    const uint64_t residue = ptr & (page_size_ - 1);
    if ((residue & ((uint64_t{1} << g.gcd_shift) - 1)) != 0) return 0;
    const uint64_t region =
        region_of_residue_[g.region_table + (residue >> g.gcd_shift)];
    const uint64_t offset = region * g.size;
    return ptr >= offset ? ptr - offset : 0;
  }
  // The region index of `ptr` within its slab (small classes), or 0.
  uint32_t RegionOf(uint64_t ptr, uint32_t size_class) const;
  // For a small class: whether `ptr` starts a region of `size_class` in a
  // slab at or above address 0, and if so that slab's base and the region
  // index (GranuleOf and RegionOf in one step, without GranuleOf's 0 that
  // can be an answer or a refusal). False for large classes.
  bool LocateRegion(uint64_t ptr, uint32_t size_class, uint64_t* slab,
                    uint32_t* region) const {
    if (size_class >= nbins_) return false;
    const ClassGeometry& g = classes_[size_class];
    const uint64_t residue = ptr & (page_size_ - 1);
    if ((residue & ((uint64_t{1} << g.gcd_shift) - 1)) != 0) return false;
    const uint32_t k =
        region_of_residue_[g.region_table + (residue >> g.gcd_shift)];
    const uint64_t offset = uint64_t{k} * g.size;
    if (ptr < offset) return false;
    *slab = ptr - offset;
    *region = k;
    return true;
  }

  // The smallest class whose size is >= `size`, or num_classes() if none.
  uint32_t ClassForSize(uint64_t size) const;

 private:
  struct ClassGeometry {
    uint64_t size = 0;
    uint64_t slab_size = 0;
    uint32_t nregs = 0;
    uint32_t gcd_shift = 0;     // log2(gcd(size, page)).
    uint32_t region_table = 0;  // offset into region_of_residue_.
  };
  SlabGeometry() = default;

  std::vector<ClassGeometry> classes_;
  // For each small class, nregs entries: residue (ptr mod page) >> gcd_shift
  // -> region index k with (k * size) mod page == residue.
  std::vector<uint16_t> region_of_residue_;
  uint32_t nbins_ = 0;
  uint64_t page_size_ = 0;
  uint64_t large_extent_pad_ = 0;
};

}  // namespace slabtrace

#endif  // SLABTRACE_PROTO_SLAB_GEOMETRY_H_
