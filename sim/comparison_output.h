// Renders a Comparison for people and programs:
//  - FormatTable: per sweep one row per policy, columns aligned, sizes
//    humanised (KiB/MiB/GiB), the sweep label first; then the packing bound
//    per sweep and, when present, the fidelity summary.
//  - FormatCsv: one header line and one line per (sweep, policy), plus one
//    per (sweep, policy, size class) with --by-class; the columns are
//    listed in kCsvColumns and documented in sim/README.md. A fidelity block
//    follows after an empty line when present.
//  - FormatJson: the Comparison proto as JSON, every field printed, proto
//    field names.
// All three are deterministic functions of the Comparison.

#ifndef SLABTRACE_SIM_COMPARISON_OUTPUT_H_
#define SLABTRACE_SIM_COMPARISON_OUTPUT_H_

#include <string>

#include "absl/status/statusor.h"
#include "proto/sim.pb.h"

namespace slabtrace {

inline constexpr const char* kCsvColumns =
    "kind,seq,time_ns,label,events,policy,size_class,dsr,held_granules,"
    "pinned_slabs,pinned_granules,footprint_bytes,peak_footprint_bytes,"
    "stranded_bytes,live_objects,live_bytes,footprint_ratio,cached_regions,"
    "placement_conflicts,meshed_slabs,meshed_footprint_bytes,"
    "packing_bound_slabs,packing_bound_bytes";

inline constexpr const char* kFidelityCsvColumns =
    "seq,label,size_class,recorded_slabs,jemalloc_slabs,relative_difference";

std::string FormatTable(const Comparison& comparison);
std::string FormatCsv(const Comparison& comparison);
absl::StatusOr<std::string> FormatJson(const Comparison& comparison);

}  // namespace slabtrace

#endif  // SLABTRACE_SIM_COMPARISON_OUTPUT_H_
