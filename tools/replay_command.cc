#include "tools/replay_command.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>

#include "absl/strings/str_format.h"
#include "proto/report.pb.h"
#include "proto/trace_reader.h"
#include "replay/replayer.h"
#include "replay/report_format.h"
#include "tools/internal/command.h"
#include "tools/internal/command_line.h"
#include "tools/internal/output_file.h"

namespace slabtrace {
namespace {

constexpr char kSummary[] =
    "Streams the trace and rebuilds the live objects of every recorded slab\n"
    "and large extent. Sweeps at every marker, every N events or MS of trace\n"
    "time if asked, and at the end; each sweep reports live objects and "
    "bytes,\npinned slabs, footprint, stranded bytes, packing bound and the "
    "drainable\nslab ratio (DSR) since the previous sweep and since the "
    "previous marker.\nAt markers with jemalloc statistics it compares "
    "per size class with\njemalloc's curslabs/curregs. Output is "
    "byte-identical for the same trace\nand options.";

int Fail(const std::string& message) {
  std::fprintf(stderr, "slabtrace replay: %s\n", message.c_str());
  return kExitBadInput;
}

// A progress line on stderr, only when stderr is a terminal and the replay
// has already taken more than a second, redrawn at most 4 times a second.
class ProgressLine {
 public:
  ProgressLine()
      : enabled_(isatty(STDERR_FILENO) == 1),
        start_(std::chrono::steady_clock::now()),
        last_(start_) {}
  ~ProgressLine() {
    if (shown_) std::fprintf(stderr, "\r\033[K");
  }

  void Update(const TraceReader& reader) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - start_ < std::chrono::seconds(1) ||
        now - last_ < std::chrono::milliseconds(250)) {
      return;
    }
    last_ = now;
    shown_ = true;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const double done = reader.file_size() == 0
                            ? 0.0
                            : 100.0 * reader.bytes_read() / reader.file_size();
    std::fprintf(stderr, "\rreplay: %5.1f%%  %s events  %.0f M events/s\033[K",
                 done, WithCommas(reader.events_read()).c_str(),
                 reader.events_read() / seconds / 1e6);
  }

 private:
  const bool enabled_;
  const std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_;
  bool shown_ = false;
};

}  // namespace

int RunReplay(const std::vector<std::string>& args) {
  CommandLine command_line("slabtrace replay FILE [options]", kSummary);
  command_line.AddOption("every", "0", "also sweep every N events (0: off)");
  command_line.AddOption("interval", "0",
                         "also sweep every MS milliseconds of trace time "
                         "(0: off)");
  command_line.AddFlag("by-class", "report every sweep per size class too");
  command_line.AddFlag("histogram",
                       "occupancy histogram of pinned slabs (live/nregs in "
                       "tenths)");
  command_line.AddOption("format", "table", "table, csv or json");
  command_line.AddOption("output", "", "write the report to OUT, not stdout",
                         "o");
  if (std::optional<int> exit_code = command_line.ParseOrExit(args)) {
    return *exit_code;
  }
  if (command_line.positional().size() != 1) {
    return Fail("want exactly one trace FILE (see --help)");
  }
  absl::StatusOr<int64_t> every = command_line.GetInt("every");
  absl::StatusOr<int64_t> interval = command_line.GetInt("interval");
  absl::StatusOr<ReportFormat> format =
      ParseReportFormat(command_line.Get("format"));
  for (const absl::Status& status :
       {every.status(), interval.status(), format.status()}) {
    if (!status.ok()) return Fail(std::string(status.message()));
  }
  if (*every < 0 || *interval < 0) {
    return Fail("--every and --interval must not be negative");
  }

  ReplayOptions options;
  options.set_every_events(*every);
  options.set_interval_ms(*interval);
  options.set_by_class(command_line.GetFlag("by-class"));
  options.set_histogram(command_line.GetFlag("histogram"));

  absl::StatusOr<std::unique_ptr<TraceReader>> reader =
      TraceReader::Open(command_line.positional()[0]);
  if (!reader.ok()) return Fail(std::string(reader.status().message()));
  absl::StatusOr<Report> report;
  {
    ProgressLine progress;
    Replayer replayer(**reader, options);
    report =
        replayer.Run([&progress](const TraceReader& r) { progress.Update(r); });
  }
  if (!report.ok()) return Fail(std::string(report.status().message()));
  absl::StatusOr<std::string> text = FormatReport(*report, *format);
  if (!text.ok()) return Fail(std::string(text.status().message()));
  if (absl::Status status = WriteOutput(command_line.Get("output"), *text);
      !status.ok()) {
    return Fail(std::string(status.message()));
  }
  return kExitOk;
}

}  // namespace slabtrace
