// SimulatePolicy runs one placement policy over a whole object stream and
// samples it at every sweep: each marker, the end, and with a timeline every
// N events and/or every MS of trace time. Each sweep closes a DSR window and
// opens the next.
//
// Deterministic: the result depends only on the stream, the policy name and
// the options, never on the thread it runs on.

#ifndef SLABTRACE_SIM_SIMULATION_H_
#define SLABTRACE_SIM_SIMULATION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/sim.pb.h"
#include "sim/policy_registry.h"
#include "sim/sim_geometry.h"

namespace slabtrace {

struct SimOptions {
  GeometryOptions geometry;
  bool tcache = false;  // thread-cache model for the jemalloc policy.
  uint64_t epoch_ms = 0;
  uint64_t every_events = 0;  // 0: no interval sweeps by count.
  uint64_t every_ms = 0;      // 0: no interval sweeps by time.
  bool by_class = false;
};

// One policy's view of the run: sweeps with exactly one row each.
struct PolicyRun {
  std::vector<ComparisonSweep> sweeps;
  uint64_t events = 0;
  uint64_t unknown_frees = 0;
};

absl::StatusOr<PolicyRun> SimulatePolicy(absl::string_view policy,
                                         const StreamFactory& open_stream,
                                         const SimOptions& options);

}  // namespace slabtrace

#endif  // SLABTRACE_SIM_SIMULATION_H_
