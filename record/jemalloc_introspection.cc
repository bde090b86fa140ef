#include "record/jemalloc_introspection.h"

#include <jemalloc/jemalloc.h>
#include <sys/types.h>

#include <algorithm>
#include <numeric>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "proto/slab_geometry.h"

namespace slabtrace {
namespace {

MallctlApi mallctl_api = {&mallctl, &mallctlnametomib, &mallctlbymib};

template <typename T>
absl::Status Read(const char* name, T* out) {
  size_t size = sizeof(T);
  if (mallctl_api.mallctl(name, out, &size, nullptr, 0) != 0 ||
      size != sizeof(T)) {
    return absl::FailedPreconditionError(
        absl::StrCat("jemalloc: cannot read mallctl \"", name, "\""));
  }
  return absl::OkStatus();
}

// A mallctl name turned into a MIB once, then read with different indices.
class MibReader {
 public:
  explicit MibReader(const char* name) : name_(name) {
    ok_ = mallctl_api.nametomib(name, mib_, &length_) == 0;
  }
  // Sets component `position` of the MIB to `index`.
  MibReader& At(size_t position, size_t index) {
    mib_[position] = index;
    return *this;
  }
  template <typename T>
  absl::Status Get(T* out) {
    size_t size = sizeof(T);
    if (!ok_ || mallctl_api.bymib(mib_, length_, out, &size, nullptr, 0) != 0 ||
        size != sizeof(T)) {
      return absl::FailedPreconditionError(
          absl::StrCat("jemalloc: cannot read mallctl \"", name_, "\""));
    }
    return absl::OkStatus();
  }

 private:
  const char* name_;
  size_t mib_[8];
  size_t length_ = 8;
  bool ok_ = false;
};

absl::StatusOr<TcacheOptions> ReadTcacheOptions() {
  TcacheOptions options;
  absl::Status status = Read("opt.tcache", &options.enabled);
  unsigned nhbins = 0, small_min = 0, small_max = 0, large = 0;
  ssize_t lg_mul = 0;
  status.Update(Read("arenas.nhbins", &nhbins));
  status.Update(Read("opt.tcache_nslots_small_min", &small_min));
  status.Update(Read("opt.tcache_nslots_small_max", &small_max));
  status.Update(Read("opt.tcache_nslots_large", &large));
  status.Update(Read("opt.lg_tcache_nslots_mul", &lg_mul));
  if (!status.ok()) return status;
  options.nhbins = nhbins;
  options.nslots_small_min = small_min;
  options.nslots_small_max = small_max;
  options.nslots_large = large;
  options.lg_nslots_mul = lg_mul;
  return options;
}

}  // namespace

uint32_t TcacheNcachedMax(const TcacheOptions& options, uint32_t size_class,
                          uint32_t nbins, uint32_t slab_nregs) {
  if (!options.enabled || size_class >= options.nhbins) return 0;
  if (size_class >= nbins) return options.nslots_large;
  // jemalloc clamps its options to even, non-zero values with min <= max,
  // within what a cache bin can count.
  constexpr uint32_t kCacheBinNcachedMax = (1u << 16) - 1;
  uint32_t small_min = options.nslots_small_min;
  uint32_t small_max = std::min(options.nslots_small_max, kCacheBinNcachedMax);
  if (small_min % 2 != 0) ++small_min;
  if (small_max % 2 != 0) --small_max;
  small_min = std::max<uint32_t>(small_min, 2);
  small_max = std::max<uint32_t>(small_max, 2);
  small_min = std::min(small_min, small_max);
  uint64_t candidate = options.lg_nslots_mul < 0
                           ? slab_nregs >> -options.lg_nslots_mul
                           : uint64_t{slab_nregs} << options.lg_nslots_mul;
  if (candidate % 2 != 0) ++candidate;
  if (candidate <= small_min) return small_min;
  if (candidate <= small_max) return static_cast<uint32_t>(candidate);
  return small_max;
}

absl::Status ReadJemallocHeader(TraceHeader* header) {
  const char* version = nullptr;
  unsigned nbins = 0, nlextents = 0, narenas = 0;
  size_t page = 0;
  absl::Status status = Read("version", &version);
  status.Update(Read("arenas.nbins", &nbins));
  status.Update(Read("arenas.nlextents", &nlextents));
  status.Update(Read("arenas.page", &page));
  status.Update(Read("opt.narenas", &narenas));
  if (!status.ok()) return status;
  absl::StatusOr<TcacheOptions> tcache = ReadTcacheOptions();
  if (!tcache.ok()) return tcache.status();

  header->set_allocator("jemalloc");
  header->set_allocator_version(version != nullptr ? version : "");
  header->set_page_size(page);
  // opt.cache_oblivious: every large extent gets one more page.
  bool cache_oblivious = false;
  if (Read("opt.cache_oblivious", &cache_oblivious).ok() && cache_oblivious) {
    header->set_large_extent_pad(page);
  }
  header->set_nbins(nbins);
  header->set_narenas(narenas);
  header->clear_size_classes();
  header->clear_tcache_ncached_max();
  MibReader bin_size("arenas.bin.0.size");
  MibReader bin_nregs("arenas.bin.0.nregs");
  MibReader bin_slab_size("arenas.bin.0.slab_size");
  for (unsigned i = 0; i < nbins; ++i) {
    size_t size = 0, slab_size = 0;
    uint32_t nregs = 0;
    status.Update(bin_size.At(2, i).Get(&size));
    status.Update(bin_nregs.At(2, i).Get(&nregs));
    status.Update(bin_slab_size.At(2, i).Get(&slab_size));
    if (!status.ok()) return status;
    const uint64_t lcm = std::lcm(uint64_t{size}, uint64_t{page});
    if (slab_size != lcm || uint64_t{nregs} * size != slab_size) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "jemalloc bin %d (size %d): slab_size %d, nregs %d; slabtrace "
          "needs slab_size == lcm(page %d, size) == nregs * size",
          i, size, slab_size, nregs, page));
    }
    SizeClass* size_class = header->add_size_classes();
    size_class->set_index(i);
    size_class->set_size(size);
    size_class->set_slab_size(slab_size);
    size_class->set_nregs(nregs);
    header->add_tcache_ncached_max(TcacheNcachedMax(*tcache, i, nbins, nregs));
  }
  MibReader lextent_size("arenas.lextent.0.size");
  for (unsigned i = 0; i < nlextents; ++i) {
    size_t size = 0;
    status.Update(lextent_size.At(2, i).Get(&size));
    if (!status.ok()) return status;
    SizeClass* size_class = header->add_size_classes();
    size_class->set_index(nbins + i);
    size_class->set_size(size);
    header->add_tcache_ncached_max(
        TcacheNcachedMax(*tcache, nbins + i, nbins, 0));
  }
  // The replay's own check; a refusal here must stop the recording too.
  absl::StatusOr<SlabGeometry> geometry = SlabGeometry::Create(*header);
  return geometry.status();
}

namespace {

// One arena's share of stats.{allocated,active,resident,mapped}; zeros for
// what cannot be read (an arena never used has no stats yet).
struct ArenaTotals {
  size_t allocated = 0, active = 0, resident = 0, mapped = 0;
};

ArenaTotals ReadArenaTotals(unsigned arena) {
  ArenaTotals totals;
  size_t small = 0, large = 0, pactive = 0, page = 0;
  const std::string prefix = absl::StrCat("stats.arenas.", arena, ".");
  if (Read((prefix + "small.allocated").c_str(), &small).ok() &&
      Read((prefix + "large.allocated").c_str(), &large).ok()) {
    totals.allocated = small + large;
  }
  if (Read((prefix + "pactive").c_str(), &pactive).ok() &&
      Read("arenas.page", &page).ok()) {
    totals.active = pactive * page;
  }
  (void)Read((prefix + "resident").c_str(), &totals.resident);
  (void)Read((prefix + "mapped").c_str(), &totals.mapped);
  return totals;
}

}  // namespace

void UseMallctlApi(const MallctlApi& api) { mallctl_api = api; }

const MallctlApi& CurrentMallctlApi() { return mallctl_api; }

absl::StatusOr<AllocatorStats> ReadJemallocStats(unsigned excluded_arena) {
  uint64_t epoch = 1;
  size_t epoch_size = sizeof(epoch);
  mallctl_api.mallctl("epoch", &epoch, &epoch_size, &epoch, sizeof(epoch));

  AllocatorStats stats;
  size_t allocated = 0, active = 0, resident = 0, mapped = 0;
  unsigned narenas = 0, nbins = 0, nlextents = 0;
  absl::Status status = Read("stats.allocated", &allocated);
  status.Update(Read("stats.active", &active));
  status.Update(Read("stats.resident", &resident));
  status.Update(Read("stats.mapped", &mapped));
  status.Update(Read("arenas.narenas", &narenas));
  status.Update(Read("arenas.nbins", &nbins));
  status.Update(Read("arenas.nlextents", &nlextents));
  if (!status.ok()) return status;
  if (excluded_arena < narenas) {
    ArenaTotals own = ReadArenaTotals(excluded_arena);
    allocated -= std::min(allocated, own.allocated);
    active -= std::min(active, own.active);
    resident -= std::min(resident, own.resident);
    mapped -= std::min(mapped, own.mapped);
  }
  stats.set_allocated(allocated);
  stats.set_active(active);
  stats.set_resident(resident);
  stats.set_mapped(mapped);

  std::vector<BinStats> bins(nbins);
  for (unsigned j = 0; j < nbins; ++j) bins[j].set_size_class(j);
  std::vector<uint64_t> curlextents(nlextents, 0);
  MibReader initialized("arena.0.initialized");
  MibReader curslabs("stats.arenas.0.bins.0.curslabs");
  MibReader curregs("stats.arenas.0.bins.0.curregs");
  MibReader nonfull("stats.arenas.0.bins.0.nonfull_slabs");
  MibReader nmalloc("stats.arenas.0.bins.0.nmalloc");
  MibReader ndalloc("stats.arenas.0.bins.0.ndalloc");
  MibReader lextents("stats.arenas.0.lextents.0.curlextents");
  for (unsigned i = 0; i < narenas; ++i) {
    bool is_initialized = false;
    if (i == excluded_arena ||
        !initialized.At(1, i).Get(&is_initialized).ok() || !is_initialized) {
      continue;
    }
    for (unsigned j = 0; j < nbins; ++j) {
      size_t slabs = 0, regs = 0, nonfull_slabs = 0;
      uint64_t mallocs = 0, dallocs = 0;
      status.Update(curslabs.At(2, i).At(4, j).Get(&slabs));
      status.Update(curregs.At(2, i).At(4, j).Get(&regs));
      status.Update(nonfull.At(2, i).At(4, j).Get(&nonfull_slabs));
      status.Update(nmalloc.At(2, i).At(4, j).Get(&mallocs));
      status.Update(ndalloc.At(2, i).At(4, j).Get(&dallocs));
      if (!status.ok()) return status;
      BinStats& bin = bins[j];
      bin.set_curslabs(bin.curslabs() + slabs);
      bin.set_curregs(bin.curregs() + regs);
      bin.set_nonfull_slabs(bin.nonfull_slabs() + nonfull_slabs);
      bin.set_nmalloc(bin.nmalloc() + mallocs);
      bin.set_ndalloc(bin.ndalloc() + dallocs);
    }
    for (unsigned j = 0; j < nlextents; ++j) {
      size_t count = 0;
      status.Update(lextents.At(2, i).At(4, j).Get(&count));
      if (!status.ok()) return status;
      curlextents[j] += count;
    }
  }
  for (BinStats& bin : bins) *stats.add_bins() = std::move(bin);
  for (unsigned j = 0; j < nlextents; ++j) {
    if (curlextents[j] != 0) {
      (*stats.mutable_large_curlextents())[nbins + j] = curlextents[j];
    }
  }
  return stats;
}

}  // namespace slabtrace
