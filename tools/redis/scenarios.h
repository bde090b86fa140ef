// Scenarios are the Redis workloads `slabtrace redis` records: each drives
// a server through phases and calls Mark(label) at every phase boundary,
// where the caller drops a trace marker (and reads INFO memory).
//
// A scenario promises to be deterministic from its parameters: the same
// ScenarioParams send the same commands in the same order, so recordings
// differ only by what the allocator and the server do on their own. It
// never waits on wall-clock luck either: the expire scenario turns active
// expiry off and expires each wave by touching its keys.

#ifndef SLABTRACE_TOOLS_REDIS_SCENARIOS_H_
#define SLABTRACE_TOOLS_REDIS_SCENARIOS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tools/redis/resp_client.h"

namespace slabtrace {

// Every scenario's knobs; each scenario's description says which it reads.
struct ScenarioParams {
  int64_t keys = 10000;       // keys written (hashes: fields in total)
  int64_t value_size = 1024;  // bytes per value
  uint64_t seed = 1;          // for every random choice
  int64_t batch = 1000;       // commands per pipelined round trip
  // mixed-sizes: value sizes, one chosen at random per key.
  std::vector<int64_t> sizes = {16, 100, 300, 700, 1500, 5000, 20000};
  double delete_fraction = 0.5;  // mixed-sizes: share of keys deleted
  int64_t waves = 4;             // expire: TTL waves
  int64_t wave_ms = 20;          // expire: TTL step between waves
  int64_t ops = 0;               // churn: operations (0: 4 x keys)
  int64_t phases = 4;            // churn: marked phases
  int64_t hashes = 4;            // hashes: number of hash keys
};

// Called at each phase boundary with the phase's label.
using MarkFunction = std::function<absl::Status(absl::string_view label)>;

class Scenario {
 public:
  virtual ~Scenario() = default;
  // Drives `client` through the scenario, calling `mark` between phases.
  // Every command's reply is checked; the first failure ends the run.
  virtual absl::Status Run(RespClient& client, const MarkFunction& mark) = 0;
};

struct ScenarioInfo {
  const char* name;
  const char* description;  // one line, for --help
  // The labels Mark() is called with, in order, for these params.
  std::vector<std::string> (*labels)(const ScenarioParams& params);
  std::unique_ptr<Scenario> (*create)(const ScenarioParams& params);
};

// Every scenario, in the order --help lists them.
const std::vector<ScenarioInfo>& AllScenarios();

// The scenario called `name` with `params`, or InvalidArgument naming the
// known scenarios. Parameters out of range are InvalidArgument too.
absl::StatusOr<std::unique_ptr<Scenario>> CreateScenario(
    absl::string_view name, const ScenarioParams& params);

// The key and value the scenarios write for index i (exposed for tests).
std::string ScenarioKey(int64_t i);
std::string ScenarioValue(int64_t i, int64_t size);

}  // namespace slabtrace

#endif  // SLABTRACE_TOOLS_REDIS_SCENARIOS_H_
