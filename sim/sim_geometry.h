// SimGeometry is the slab layout the simulator allocates with: the trace
// header's size classes, optionally changed by the what-if options
// `--page-size` and `--slab-scale`. Every policy of one comparison uses the
// same SimGeometry, so their footprints compare like for like.
//
// Exactly what the options do, per small size class (large classes are
// never changed: each large object is its own granule of
// SlabGeometry::granule_bytes):
//   1. page override P: slab_size = lcm(P, region size), nregs = slab_size /
//      region size (jemalloc's default slab sizing with another page size).
//   2. slab scale num/den (either num or den is 1): nregs' = nregs * num /
//      den and slab_size' = nregs' * region size, applied only when nregs *
//      num is divisible by den; classes where it is not (or where nregs'
//      would exceed kMaxRegions) keep the step-1 geometry and are counted in
//      unscaled_classes().

#ifndef SLABTRACE_SIM_SIM_GEOMETRY_H_
#define SLABTRACE_SIM_SIM_GEOMETRY_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/slab_geometry.h"

namespace slabtrace {

struct GeometryOptions {
  uint32_t scale_num = 1;  // slabs are scale_num / scale_den times as big.
  uint32_t scale_den = 1;
  uint64_t page_size = 0;  // 0: keep the header's.
};

// Parses "K" (K >= 1) or "1/K" into scale_num / scale_den.
absl::Status ParseSlabScale(absl::string_view text, GeometryOptions* options);

class SimGeometry {
 public:
  // Region indices are stored in 16 bits by the simulator.
  static constexpr uint32_t kMaxRegions = 1u << 16;

  static absl::StatusOr<SimGeometry> Create(const SlabGeometry& base,
                                            const GeometryOptions& options);

  int num_classes() const { return static_cast<int>(classes_.size()); }
  bool is_small(uint32_t size_class) const {
    return classes_[size_class].nregs > 0;
  }
  uint64_t region_size(uint32_t size_class) const {
    return classes_[size_class].region_size;
  }
  // Bytes one granule occupies: the slab for small classes, the extent for
  // large ones.
  uint64_t granule_bytes(uint32_t size_class) const {
    return classes_[size_class].granule_bytes;
  }
  // Regions per slab; 1 for large classes (one object per granule).
  uint32_t capacity(uint32_t size_class) const {
    return is_small(size_class) ? classes_[size_class].nregs : 1;
  }
  uint32_t nregs(uint32_t size_class) const {
    return classes_[size_class].nregs;
  }
  int unscaled_classes() const { return unscaled_classes_; }

 private:
  struct ClassLayout {
    uint64_t region_size = 0;
    uint64_t granule_bytes = 0;
    uint32_t nregs = 0;  // 0 for large classes.
  };
  std::vector<ClassLayout> classes_;
  int unscaled_classes_ = 0;
};

}  // namespace slabtrace

#endif  // SLABTRACE_SIM_SIM_GEOMETRY_H_
