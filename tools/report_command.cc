#include "tools/report_command.h"

#include <cstdio>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "tools/internal/command.h"
#include "tools/internal/command_line.h"
#include "tools/internal/output_file.h"
#include "tools/report/html_report.h"
#include "tools/report/trace_report.h"

namespace slabtrace {
namespace {

constexpr char kSummary[] =
    "Writes one HTML file that opens from disk with no network: the trace's\n"
    "facts; footprint, live bytes and packing bound over time; the drainable\n"
    "slab ratio (DSR) of each placement policy over time; a table per marker\n"
    "with one row per policy; occupancy histograms of pinned slabs; a slab "
    "map\n"
    "per marker (every slab of a size class, coloured by occupancy, by\n"
    "address); and per-size-class tables. The end of the trace counts as a\n"
    "last marker named \"end\". Same trace and options: same bytes.";

int Fail(const std::string& message) {
  std::fprintf(stderr, "slabtrace report: %s\n", message.c_str());
  return kExitBadInput;
}

}  // namespace

int RunReport(const std::vector<std::string>& args) {
  CommandLine command_line("slabtrace report FILE [options]", kSummary);
  command_line.AddOption(
      "policies", "all",
      "placement policies to simulate, comma-separated, in the order shown; "
      "'all' (every policy) or 'none' (the recorded placement only, from the "
      "replay)");
  command_line.AddOption("class", "0",
                         "region size in bytes of the size class whose slab "
                         "map is shown first (0: the class with the most "
                         "pinned slabs at the last marker)");
  command_line.AddOption("points", "2000",
                         "about this many sweeps on the timelines");
  command_line.AddOption("threads", "0",
                         "simulator threads (0: one per policy)");
  command_line.AddOption("output", "report.html", "the HTML file to write",
                         "o");
  if (std::optional<int> exit_code = command_line.ParseOrExit(args)) {
    return *exit_code;
  }
  if (command_line.positional().size() != 1) {
    return Fail("want exactly one trace FILE (see --help)");
  }
  absl::StatusOr<int64_t> class_size = command_line.GetInt("class");
  absl::StatusOr<int64_t> points = command_line.GetInt("points");
  absl::StatusOr<int64_t> threads = command_line.GetInt("threads");
  absl::StatusOr<std::vector<std::string>> policies =
      command_line.GetList("policies");
  for (const absl::Status& status : {class_size.status(), points.status(),
                                     threads.status(), policies.status()}) {
    if (!status.ok()) return Fail(std::string(status.message()));
  }
  if (*class_size < 0 || *points < 2 || *threads < 0) {
    return Fail("--class and --threads must not be negative, --points >= 2");
  }

  TraceReportOptions options;
  options.class_size = static_cast<uint64_t>(*class_size);
  options.timeline_points = static_cast<size_t>(*points);
  options.threads = static_cast<int>(*threads);
  if (*policies == std::vector<std::string>{"all"}) {
    options.policies.clear();
    options.simulate_all_policies = true;
  } else if (*policies != std::vector<std::string>{"none"}) {
    options.policies = *policies;
  }
  absl::StatusOr<ReportInput> input =
      BuildReportInput(command_line.positional()[0], options);
  if (!input.ok()) return Fail(std::string(input.status().message()));
  const std::string path = command_line.Get("output");
  if (absl::Status status = WriteOutput(path, RenderHtmlReport(*input));
      !status.ok()) {
    return Fail(std::string(status.message()));
  }
  return kExitOk;
}

}  // namespace slabtrace
