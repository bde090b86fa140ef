// Turns the raw counts of a sweep (SlabOccupancy's ClassCounts) into the
// Occupancy messages a report carries, with the DESIGN.md definitions:
// live bytes are usable (class) sizes, footprint is the bytes of pinned
// granules, stranded = footprint - live bytes, packing bound = sum over
// classes of ceil(live / nregs) * slab size (a large object is its own
// granule, so it counts its granule bytes), drained = held - pinned.

#ifndef SLABTRACE_REPLAY_INTERNAL_SWEEP_METRICS_H_
#define SLABTRACE_REPLAY_INTERNAL_SWEEP_METRICS_H_

#include <cstdint>

#include "proto/report.pb.h"
#include "proto/slab_geometry.h"
#include "replay/slab_occupancy.h"

namespace slabtrace {

// True when a class has anything to report at a sweep.
bool HasActivity(const ClassCounts& counts);

// Fills *out for one class; the histogram only when `histogram`. DSR ratios
// are final (see FinishDsr).
void FillClassOccupancy(const SlabGeometry& geometry, uint32_t size_class,
                        const ClassCounts& counts, bool histogram,
                        Occupancy* out);

// Adds the counts of `part` into *total (histogram bucket by bucket); call
// FinishDsr on *total afterwards.
void AddOccupancy(const Occupancy& part, Occupancy* total);

// Sets dsr and defined from held and drained.
void FinishDsr(DsrWindow* window);

}  // namespace slabtrace

#endif  // SLABTRACE_REPLAY_INTERNAL_SWEEP_METRICS_H_
