#include "replay/internal/sweep_metrics.h"

namespace slabtrace {
namespace {

void FillWindow(uint64_t held, uint64_t pinned, DsrWindow* window) {
  window->set_held(held);
  window->set_drained(held - pinned);
  FinishDsr(window);
}

void AddWindow(const DsrWindow& part, DsrWindow* total) {
  total->set_held(total->held() + part.held());
  total->set_drained(total->drained() + part.drained());
}

}  // namespace

bool HasActivity(const ClassCounts& counts) {
  return counts.live_objects != 0 || counts.pinned != 0 ||
         counts.held_since_sweep != 0 || counts.held_since_marker != 0;
}

void FinishDsr(DsrWindow* window) {
  window->set_defined(window->held() != 0);
  window->set_dsr(window->held() == 0
                      ? 0.0
                      : static_cast<double>(window->drained()) /
                            static_cast<double>(window->held()));
}

void FillClassOccupancy(const SlabGeometry& geometry, uint32_t size_class,
                        const ClassCounts& counts, bool histogram,
                        Occupancy* out) {
  const bool small = geometry.is_small(size_class);
  const uint64_t granule = geometry.granule_bytes(size_class);
  const uint64_t live_bytes =
      counts.live_objects * geometry.region_size(size_class);
  const uint64_t footprint = counts.pinned * granule;
  out->set_live_objects(counts.live_objects);
  out->set_live_bytes(live_bytes);
  out->set_requested_bytes(counts.requested_bytes);
  out->set_pinned_slabs(small ? counts.pinned : 0);
  out->set_pinned_extents(small ? 0 : counts.pinned);
  out->set_footprint_bytes(footprint);
  out->set_stranded_bytes(static_cast<int64_t>(footprint) -
                          static_cast<int64_t>(live_bytes));
  if (small) {
    const uint64_t nregs = geometry.nregs(size_class);
    out->set_packing_bound_bytes((counts.live_objects + nregs - 1) / nregs *
                                 granule);
  } else {
    out->set_packing_bound_bytes(counts.live_objects * granule);
  }
  FillWindow(counts.held_since_sweep, counts.pinned,
             out->mutable_dsr_since_sweep());
  FillWindow(counts.held_since_marker, counts.pinned,
             out->mutable_dsr_since_marker());
  out->clear_histogram();
  if (histogram) {
    for (uint64_t n : counts.histogram) out->add_histogram(n);
  }
}

void AddOccupancy(const Occupancy& part, Occupancy* total) {
  total->set_live_objects(total->live_objects() + part.live_objects());
  total->set_live_bytes(total->live_bytes() + part.live_bytes());
  total->set_requested_bytes(total->requested_bytes() + part.requested_bytes());
  total->set_pinned_slabs(total->pinned_slabs() + part.pinned_slabs());
  total->set_pinned_extents(total->pinned_extents() + part.pinned_extents());
  total->set_footprint_bytes(total->footprint_bytes() + part.footprint_bytes());
  total->set_stranded_bytes(total->stranded_bytes() + part.stranded_bytes());
  total->set_packing_bound_bytes(total->packing_bound_bytes() +
                                 part.packing_bound_bytes());
  AddWindow(part.dsr_since_sweep(), total->mutable_dsr_since_sweep());
  AddWindow(part.dsr_since_marker(), total->mutable_dsr_since_marker());
  for (int i = 0; i < part.histogram_size(); ++i) {
    if (total->histogram_size() <= i) total->add_histogram(0);
    total->set_histogram(i, total->histogram(i) + part.histogram(i));
  }
}

}  // namespace slabtrace
