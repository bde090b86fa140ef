#include "tools/compare_command.h"

#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "replay/object_stream.h"
#include "sim/compare.h"
#include "sim/comparison_output.h"
#include "tools/internal/command.h"
#include "tools/internal/command_line.h"
#include "tools/internal/output_file.h"

namespace slabtrace {
namespace {

constexpr char kSummary[] =
    "Runs the trace's logical alloc/free stream through a simulated "
    "allocator\nonce per placement policy, in parallel, and prints per sweep "
    "(each marker\nand the end; --timeline adds intervals) one row per "
    "policy: DSR over the\nwindow since the previous sweep, pinned slabs, "
    "footprint, its peak so far,\nstranded bytes, live objects and bytes "
    "(equal for every policy), the\nfootprint ratio to `recorded`, and the "
    "packing bound. Policies: recorded,\njemalloc, first-fit, best-fit, "
    "worst-fit, temporal, oracle, compact\n(see sim/README.md). Output is "
    "byte-identical for the same trace and\noptions, whatever --threads.";

constexpr uint64_t kDefaultTimelineEvents = 1000000;

int Fail(int code, absl::string_view message) {
  std::fprintf(stderr, "slabtrace compare: %.*s\n",
               static_cast<int>(message.size()), message.data());
  return code;
}

void DeclareOptions(CommandLine& command_line) {
  command_line.AddOption("policies", "",
                         "comma-separated policies (default: all eight)");
  command_line.AddFlag("tcache",
                       "jemalloc policy models thread caches (reports "
                       "allocator-level occupancy)");
  command_line.AddOption("epoch-ms", "0",
                         "temporal: epochs of MS ms of trace time instead of "
                         "marker phases");
  command_line.AddOption("slab-scale", "1",
                         "slabs K times larger (K) or smaller (1/K)");
  command_line.AddOption("page-size", "0",
                         "recompute slab sizes as lcm(N, region size)");
  command_line.AddFlag("timeline",
                       "also sweep at intervals (default every 1000000 "
                       "events)");
  command_line.AddOption("every", "0", "interval sweeps every N events");
  command_line.AddOption("interval", "0",
                         "interval sweeps every MS ms of trace time");
  command_line.AddFlag("by-class", "per size class rows too");
  command_line.AddFlag("fidelity",
                       "per marker and size class, jemalloc's pinned slabs "
                       "against recorded's");
  command_line.AddOption("fidelity-min-slabs", "8",
                         "classes with fewer recorded slabs do not count "
                         "towards the maximum fidelity error");
  command_line.AddOption("max-fidelity-error", "",
                         "exit 1 if the maximum fidelity error exceeds this "
                         "fraction (e.g. 0.02)");
  command_line.AddOption("threads", "0", "worker threads (0: one per policy)");
  command_line.AddOption("format", "table", "table, csv or json");
  command_line.AddOption("output", "", "write to OUT, not stdout", "o");
}

// Fills `options` from the command line; InvalidArgument on bad values.
absl::Status ReadOptions(const CommandLine& command_line,
                         CompareOptions* options) {
  if (command_line.Has("policies")) {
    absl::StatusOr<std::vector<std::string>> policies =
        command_line.GetList("policies");
    if (!policies.ok()) return policies.status();
    options->policies = *policies;
  }
  if (absl::Status s = ValidatePolicies(options->policies); !s.ok()) return s;
  SimOptions& sim = options->sim;
  sim.tcache = command_line.GetFlag("tcache");
  sim.by_class = command_line.GetFlag("by-class");
  if (absl::Status s =
          ParseSlabScale(command_line.Get("slab-scale"), &sim.geometry);
      !s.ok()) {
    return s;
  }
  struct Count {
    const char* name;
    uint64_t* value;
  };
  uint64_t page_size = 0, threads = 0, min_slabs = 0;
  for (const Count& count :
       {Count{"epoch-ms", &sim.epoch_ms}, Count{"page-size", &page_size},
        Count{"every", &sim.every_events}, Count{"interval", &sim.every_ms},
        Count{"threads", &threads}, Count{"fidelity-min-slabs", &min_slabs}}) {
    absl::StatusOr<int64_t> value = command_line.GetInt(count.name);
    if (!value.ok()) return value.status();
    if (*value < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", count.name, " must not be negative"));
    }
    *count.value = static_cast<uint64_t>(*value);
  }
  sim.geometry.page_size = page_size;
  options->threads = static_cast<int>(std::min<uint64_t>(threads, 256));
  options->fidelity_min_slabs = min_slabs;
  options->fidelity = command_line.GetFlag("fidelity") ||
                      command_line.Has("max-fidelity-error");
  if (command_line.GetFlag("timeline") && sim.every_events == 0 &&
      sim.every_ms == 0) {
    sim.every_events = kDefaultTimelineEvents;
  }
  return absl::OkStatus();
}

}  // namespace

int RunCompare(const std::vector<std::string>& args) {
  CommandLine command_line("slabtrace compare FILE [options]", kSummary);
  DeclareOptions(command_line);
  if (std::optional<int> exit_code = command_line.ParseOrExit(args)) {
    return *exit_code;
  }
  if (command_line.positional().size() != 1) {
    return Fail(kExitBadInput, "want exactly one trace FILE (see --help)");
  }
  const std::string format = command_line.Get("format");
  if (format != "table" && format != "csv" && format != "json") {
    return Fail(kExitBadInput, absl::StrCat("--format: unknown format '",
                                            format, "' (table, csv, json)"));
  }
  double max_error = -1;
  if (command_line.Has("max-fidelity-error")) {
    absl::StatusOr<double> value = command_line.GetDouble("max-fidelity-error");
    if (!value.ok()) return Fail(kExitBadInput, value.status().message());
    max_error = *value;
  }
  CompareOptions options;
  if (absl::Status status = ReadOptions(command_line, &options); !status.ok()) {
    return Fail(kExitBadInput, status.message());
  }
  const std::string path = command_line.positional()[0];
  options.trace_name = path;
  const StreamFactory open = [path] { return OpenObjectStream(path); };
  absl::StatusOr<Comparison> comparison = Compare(open, options);
  if (!comparison.ok()) {
    // Internal: a simulator invariant (e.g. conservation) broke.
    return Fail(comparison.status().code() == absl::StatusCode::kInternal
                    ? kExitCheckFailed
                    : kExitBadInput,
                comparison.status().message());
  }
  absl::StatusOr<std::string> text =
      format == "json"  ? FormatJson(*comparison)
      : format == "csv" ? absl::StatusOr<std::string>(FormatCsv(*comparison))
                        : absl::StatusOr<std::string>(FormatTable(*comparison));
  if (!text.ok()) return Fail(kExitBadInput, text.status().message());
  if (absl::Status status = WriteOutput(command_line.Get("output"), *text);
      !status.ok()) {
    return Fail(kExitBadInput, status.message());
  }
  if (max_error >= 0 &&
      comparison->fidelity().max_abs_relative_difference() > max_error) {
    return Fail(
        kExitCheckFailed,
        absl::StrFormat("fidelity error %.4f exceeds %.4f",
                        comparison->fidelity().max_abs_relative_difference(),
                        max_error));
  }
  return kExitOk;
}

}  // namespace slabtrace
