// Compare runs several placement policies over the same object stream, one
// thread per policy (each opens its own stream through the factory, so the
// runs share no mutable state), and merges their sweeps into a Comparison:
// per sweep one row per policy, in the order requested, with the footprint
// ratio to `recorded` and the packing bound. The result is byte-identical
// whatever the thread count.
//
// Conservation: every policy must end each sweep with exactly the live
// objects and bytes of the first policy; Compare fails (Internal) if not.

#ifndef SLABTRACE_SIM_COMPARE_H_
#define SLABTRACE_SIM_COMPARE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/sim.pb.h"
#include "sim/policy_registry.h"
#include "sim/simulation.h"

namespace slabtrace {

struct CompareOptions {
  std::vector<std::string> policies;  // empty: all, in registry order.
  SimOptions sim;
  int threads = 0;        // 0: one per policy.
  bool fidelity = false;  // needs recorded and jemalloc; implies by-class.
  uint64_t fidelity_min_slabs = 8;
  std::string trace_name;
};

// InvalidArgument naming the valid policies if one is unknown.
absl::Status ValidatePolicies(const std::vector<std::string>& policies);

absl::StatusOr<Comparison> Compare(const StreamFactory& open_stream,
                                   const CompareOptions& options);

// Per marker (and the end) and per small size class: jemalloc's pinned
// slabs against recorded's. Needs by-class rows of both policies.
absl::StatusOr<FidelitySummary> ComputeFidelity(const Comparison& comparison,
                                                uint64_t min_slabs);

}  // namespace slabtrace

#endif  // SLABTRACE_SIM_COMPARE_H_
