#include "sim/sim_geometry.h"

#include <numeric>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace slabtrace {

absl::Status ParseSlabScale(absl::string_view text, GeometryOptions* options) {
  const bool inverse = absl::ConsumePrefix(&text, "1/");
  uint32_t k = 0;
  if (!absl::SimpleAtoi(text, &k) || k == 0 || k > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("--slab-scale: expected K or 1/K with 1 <= K <= 1024"));
  }
  options->scale_num = inverse ? 1 : k;
  options->scale_den = inverse ? k : 1;
  return absl::OkStatus();
}

absl::StatusOr<SimGeometry> SimGeometry::Create(
    const SlabGeometry& base, const GeometryOptions& options) {
  if (options.scale_num == 0 || options.scale_den == 0) {
    return absl::InvalidArgumentError("slab scale must be positive");
  }
  if (options.page_size != 0 &&
      (options.page_size & (options.page_size - 1)) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--page-size ", options.page_size, " is not a power of two"));
  }
  SimGeometry geometry;
  for (int c = 0; c < base.num_classes(); ++c) {
    ClassLayout layout;
    layout.region_size = base.region_size(c);
    layout.granule_bytes = base.granule_bytes(c);
    if (!base.is_small(c) || layout.region_size == 0) {
      geometry.classes_.push_back(layout);
      continue;
    }
    uint64_t slab = base.slab_size(c);
    if (options.page_size != 0) {
      slab = std::lcm(options.page_size, layout.region_size);
    }
    uint64_t nregs = slab / layout.region_size;
    const uint64_t scaled = nregs * options.scale_num;
    if (scaled % options.scale_den == 0 &&
        scaled / options.scale_den <= kMaxRegions) {
      nregs = scaled / options.scale_den;
    } else {
      ++geometry.unscaled_classes_;
    }
    if (nregs == 0 || nregs > kMaxRegions) {
      return absl::InvalidArgumentError(absl::StrCat(
          "size class ", c, " would have ", nregs, " regions per slab"));
    }
    layout.nregs = static_cast<uint32_t>(nregs);
    layout.granule_bytes = nregs * layout.region_size;
    geometry.classes_.push_back(layout);
  }
  return geometry;
}

}  // namespace slabtrace
