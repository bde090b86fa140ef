#include "proto/slab_geometry.h"

#include <algorithm>
#include <limits>
#include <numeric>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"

namespace slabtrace {
namespace {

// Bounds that keep a hostile header from making Create() allocate much:
// the residue tables hold one entry per region of every small class.
constexpr uint64_t kMaxPageSize = uint64_t{1} << 24;
constexpr uint64_t kMaxRegionTableEntries = uint64_t{1} << 22;
constexpr int kMaxClasses = std::numeric_limits<uint16_t>::max() + 1;

bool IsPowerOfTwo(uint64_t x) { return x != 0 && (x & (x - 1)) == 0; }

int Log2(uint64_t power_of_two) { return __builtin_ctzll(power_of_two); }

absl::Status Invalid(const SizeClass& c, const std::string& reason) {
  return absl::InvalidArgumentError(absl::StrFormat(
      "size class %d (size %d): %s", c.index(), c.size(), reason));
}

}  // namespace

absl::StatusOr<SlabGeometry> SlabGeometry::Create(const TraceHeader& header) {
  const uint64_t page = header.page_size();
  if (!IsPowerOfTwo(page) || page > kMaxPageSize) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "page size %d is not a power of two <= %d", page, kMaxPageSize));
  }
  if (header.size_classes_size() > kMaxClasses) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%d size classes (at most %d)",
                        header.size_classes_size(), kMaxClasses));
  }
  if (header.nbins() > static_cast<uint32_t>(header.size_classes_size())) {
    return absl::InvalidArgumentError(
        absl::StrFormat("nbins %d exceeds the %d size classes", header.nbins(),
                        header.size_classes_size()));
  }
  if (header.large_extent_pad() % page != 0 ||
      header.large_extent_pad() > kMaxPageSize) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "large extent pad %d is not a multiple of the page size <= %d",
        header.large_extent_pad(), kMaxPageSize));
  }
  SlabGeometry geometry;
  geometry.page_size_ = page;
  geometry.large_extent_pad_ = header.large_extent_pad();
  geometry.nbins_ = header.nbins();
  geometry.classes_.reserve(header.size_classes_size());
  uint64_t table_entries = 0;
  uint64_t previous_size = 0;
  for (int i = 0; i < header.size_classes_size(); ++i) {
    const SizeClass& c = header.size_classes(i);
    if (c.index() != static_cast<uint32_t>(i)) {
      return Invalid(c, absl::StrFormat("listed at position %d", i));
    }
    if (c.size() <= previous_size) {
      return Invalid(c, "sizes must be positive and increasing");
    }
    previous_size = c.size();
    ClassGeometry g;
    g.size = c.size();
    if (static_cast<uint32_t>(i) >= geometry.nbins_) {
      if (c.slab_size() != 0 || c.nregs() != 0) {
        return Invalid(c, "a large class must have slab_size = nregs = 0");
      }
      geometry.classes_.push_back(g);
      continue;
    }
    // The residue argument needs every slab to be lcm(page, size) long; a
    // bigger size would overflow the table bounds below anyway.
    if (c.size() > kMaxPageSize * 64) return Invalid(c, "too large for a slab");
    const uint64_t gcd = std::gcd(c.size(), page);
    const uint64_t lcm = c.size() / gcd * page;
    if (c.slab_size() != lcm) {
      return Invalid(c, absl::StrFormat("slab_size %d != lcm(page %d, size) "
                                        "= %d; this geometry is not supported",
                                        c.slab_size(), page, lcm));
    }
    if (uint64_t{c.nregs()} * c.size() != c.slab_size()) {
      return Invalid(c, absl::StrFormat("nregs %d * size != slab_size %d",
                                        c.nregs(), c.slab_size()));
    }
    table_entries += c.nregs();
    if (c.nregs() > std::numeric_limits<uint16_t>::max() + 1u ||
        table_entries > kMaxRegionTableEntries) {
      return Invalid(c, "too many regions per slab");
    }
    g.slab_size = c.slab_size();
    g.nregs = c.nregs();
    g.gcd_shift = Log2(gcd);  // gcd divides the page: a power of two.
    g.region_table = static_cast<uint32_t>(geometry.region_of_residue_.size());
    // nregs == page / gcd, so k * size mod page visits every multiple of
    // gcd below the page exactly once for k in [0, nregs).
    geometry.region_of_residue_.resize(g.region_table + g.nregs);
    for (uint32_t k = 0; k < g.nregs; ++k) {
      const uint64_t residue = (uint64_t{k} * g.size) & (page - 1);
      geometry.region_of_residue_[g.region_table + (residue >> g.gcd_shift)] =
          static_cast<uint16_t>(k);
    }
    geometry.classes_.push_back(g);
  }
  return geometry;
}

uint64_t SlabGeometry::region_size(uint32_t size_class) const {
  return size_class < classes_.size() ? classes_[size_class].size : 0;
}

uint64_t SlabGeometry::slab_size(uint32_t size_class) const {
  return size_class < classes_.size() ? classes_[size_class].slab_size : 0;
}

uint32_t SlabGeometry::nregs(uint32_t size_class) const {
  return size_class < classes_.size() ? classes_[size_class].nregs : 0;
}

uint64_t SlabGeometry::granule_bytes(uint32_t size_class) const {
  if (size_class >= classes_.size()) return 0;
  const ClassGeometry& g = classes_[size_class];
  if (is_small(size_class)) return g.slab_size;
  return ((g.size + page_size_ - 1) & ~(page_size_ - 1)) + large_extent_pad_;
}

uint32_t SlabGeometry::RegionOf(uint64_t ptr, uint32_t size_class) const {
  if (size_class >= nbins_ || size_class >= classes_.size()) return 0;
  const ClassGeometry& g = classes_[size_class];
  const uint64_t residue = ptr & (page_size_ - 1);
  if ((residue & ((uint64_t{1} << g.gcd_shift) - 1)) != 0) return 0;
  return region_of_residue_[g.region_table + (residue >> g.gcd_shift)];
}

uint32_t SlabGeometry::ClassForSize(uint64_t size) const {
  const auto it = std::lower_bound(
      classes_.begin(), classes_.end(), size,
      [](const ClassGeometry& c, uint64_t s) { return c.size < s; });
  return static_cast<uint32_t>(it - classes_.begin());
}

}  // namespace slabtrace
