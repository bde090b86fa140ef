// The registry of placement policies: name -> factory. Adding a policy is
// one file under sim/policies/ and one line in policy_registry.cc.

#ifndef SLABTRACE_SIM_POLICY_REGISTRY_H_
#define SLABTRACE_SIM_POLICY_REGISTRY_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/trace.pb.h"
#include "replay/object_stream.h"
#include "sim/placement_policy.h"
#include "sim/sim_geometry.h"

namespace slabtrace {

// Opens a fresh stream over the same events each time it is called.
using StreamFactory =
    std::function<absl::StatusOr<std::unique_ptr<ObjectStream>>()>;

// Everything a policy factory may use.
struct PolicyContext {
  const SimGeometry* geometry = nullptr;
  const TraceHeader* header = nullptr;
  // temporal: epoch length in trace time; 0 = epochs are marker phases.
  uint64_t epoch_ms = 0;
  // For policies that need a first pass over the stream (oracle).
  StreamFactory open_stream;
};

using PolicyFactory = absl::StatusOr<std::unique_ptr<PlacementPolicy>> (*)(
    const PolicyContext& context);

// Policy names in their canonical (table) order.
const std::vector<std::string>& PolicyNames();

// "recorded, jemalloc, ..." for error messages.
std::string PolicyNameList();

// NotFound naming the valid policies when `name` is unknown.
absl::StatusOr<std::unique_ptr<PlacementPolicy>> MakePolicy(
    absl::string_view name, const PolicyContext& context);

}  // namespace slabtrace

#endif  // SLABTRACE_SIM_POLICY_REGISTRY_H_
