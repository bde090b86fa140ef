// `slabtrace check TRACE --expect EXPR ...`: replays a trace (and compares
// policies when an expectation names one) and tests thresholds on the
// result, for CI. Exit 0 when every expectation holds, 1 with one readable
// line per violated one, 2 on bad input or syntax.
//
// Expectation grammar (no spaces needed; quote it for the shell):
//
//   EXPR   := METRIC [ "[" CLASS "]" ] [ "@" SWEEP ] [ ":" POLICY ] OP VALUE
//   SWEEP  := a marker label | "end"           (default: end)
//   CLASS  := a size class's region size in bytes, e.g. 1280
//   POLICY := a `slabtrace compare` policy (recorded, jemalloc, first-fit,
//             best-fit, worst-fit, temporal, oracle, compact)
//   OP     := "<=" | ">=" | "<" | ">" | "==" | "!="
//   VALUE  := NUMBER [ UNIT ]; UNIT is "%" (x 0.01), B, KiB, MiB, GiB, TiB
//             (powers of 1024), KB, MB, GB, TB (powers of 1000), or k, M, G
//             for counts (powers of 1000).
//
// Metrics (DESIGN.md definitions). Without POLICY they come from the
// replay of the recorded placement:
//   dsr              DSR over the window since the previous marker (ratio)
//   live_objects, live_bytes, requested_bytes, pinned_slabs,
//   pinned_extents, footprint, stranded_bytes, packing_bound   (at SWEEP)
//   classes_outside_bound  size classes whose replay differs from
//                    jemalloc's own statistics by more than the thread-cache
//                    bound (markers that carry a statistics snapshot)
//   unknown_frees, inconsistencies, dropped_events   (whole trace; @end)
// With POLICY they come from the comparison:
//   dsr, pinned_slabs, pinned_granules, footprint, peak_footprint,
//   stranded_bytes, live_objects, live_bytes, footprint_ratio (footprint /
//   recorded footprint), meshed_slabs, meshed_footprint (compact); per
//   CLASS: dsr, live_objects, pinned_slabs, pinned_granules, footprint.
//   The comparison (sim/compare.h) runs only when an expectation names a
//   policy or --policies asks, always with `recorded` as the ratio's base.
// peak_footprint without POLICY means POLICY recorded; footprint_ratio
// needs a POLICY.
//
// Examples: 'dsr@deleted>=0.4'  'footprint_ratio@end:oracle<=1.2'
//           'peak_footprint<=64MiB'  'pinned_slabs[1280]@deleted<=7000'
// A marker label used more than once means its first occurrence.

#ifndef SLABTRACE_TOOLS_CHECK_COMMAND_H_
#define SLABTRACE_TOOLS_CHECK_COMMAND_H_

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace slabtrace {

class Comparison;  // proto/sim.proto
class Report;      // proto/report.proto

// The subcommand: `slabtrace check TRACE --expect EXPR [--expect EXPR ...]
// [--policies LIST]`.
int RunCheck(const std::vector<std::string>& args);

struct Expectation {
  enum class Op {
    kLess,
    kLessEqual,
    kGreater,
    kGreaterEqual,
    kEqual,
    kNotEqual
  };
  std::string text;  // as written
  std::string metric;
  int64_t class_size = -1;  // -1: all classes together
  std::string sweep = "end";
  std::string policy;  // "": the replay
  Op op = Op::kLessEqual;
  double threshold = 0;
};

// Parses one EXPR. Errors say what is wrong with which part.
absl::StatusOr<Expectation> ParseExpectation(absl::string_view text);

// The values a trace's replay and comparison produced, by metric, sweep,
// policy and class; what expectations are checked against.
class MetricTable {
 public:
  struct Key {
    std::string metric;
    std::string sweep;
    std::string policy;
    int64_t class_size = -1;
    bool operator<(const Key& other) const {
      return std::tie(metric, sweep, policy, class_size) <
             std::tie(other.metric, other.sweep, other.policy,
                      other.class_size);
    }
  };

  // Keeps the first value set for a key, except that sweep "end" always
  // takes the latest (a marker may be called "end" too).
  void Set(const Key& key, double value);
  // Every metric of `report`'s labelled sweeps (markers and the end).
  void AddReplay(const Report& report);
  // Every policy's metrics at `comparison`'s labelled sweeps, per class too
  // when it was run by class (a small class's pinned_slabs are its pinned
  // granules).
  void AddComparison(const Comparison& comparison);

  // The value `expectation` refers to, or NotFound naming what the table
  // does have (the sweeps, or the policies).
  absl::StatusOr<double> Lookup(const Expectation& expectation) const;

 private:
  std::map<Key, double> values_;
  std::vector<std::string> sweeps_;    // in order of first appearance
  std::vector<std::string> policies_;  // likewise
};

// The policies `expectations` name plus `extra`, in order of first mention,
// each once, with `recorded` first when any is named: footprint_ratio is
// relative to it. InvalidArgument naming the valid ones for an unknown name.
absl::StatusOr<std::vector<std::string>> PoliciesToCompare(
    const std::vector<Expectation>& expectations,
    const std::vector<std::string>& extra);

struct CheckResult {
  bool holds = false;
  // "dsr at marker 'deleted' is 0.02, expected >= 0.40".
  std::string message;
};

// Checks one expectation; an error when the table lacks its value.
absl::StatusOr<CheckResult> Evaluate(const Expectation& expectation,
                                     const MetricTable& table);

}  // namespace slabtrace

#endif  // SLABTRACE_TOOLS_CHECK_COMMAND_H_
