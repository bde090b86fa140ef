#include "tools/mark_command.h"

#include <cstdio>
#include <memory>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/time/time.h"
#include "proto/trace_reader.h"
#include "record/control_channel.h"
#include "tools/internal/command.h"
#include "tools/internal/command_line.h"

namespace slabtrace {
namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "slabtrace mark: %s\n", message.c_str());
  return kExitBadInput;
}

}  // namespace

int RunMark(const std::vector<std::string>& args) {
  CommandLine command_line(
      "slabtrace mark (--pid PID | --trace FILE) LABEL",
      "Puts a labelled marker into a running recording, between the events\n"
      "before and after the call, with a snapshot of jemalloc's statistics,\n"
      "and waits until it is written. Exit 0 when written, 2 when there is\n"
      "no such recording.");
  command_line.AddOption("pid", "", "process being recorded");
  command_line.AddOption("trace", "",
                         "trace file being written (its header names the "
                         "process)");
  command_line.AddOption("timeout-ms", "10000",
                         "how long to wait for the recorder");
  if (std::optional<int> exit_code = command_line.ParseOrExit(args)) {
    return *exit_code;
  }
  if (command_line.positional().size() != 1) {
    return Fail("needs exactly one LABEL (see --help)");
  }
  if (command_line.Has("pid") == command_line.Has("trace")) {
    return Fail("give exactly one of --pid and --trace");
  }
  absl::StatusOr<int64_t> timeout_ms = command_line.GetInt("timeout-ms");
  if (!timeout_ms.ok()) return Fail(std::string(timeout_ms.status().message()));
  int64_t pid = 0;
  if (command_line.Has("pid")) {
    if (!absl::SimpleAtoi(command_line.Get("pid"), &pid) || pid <= 0) {
      return Fail("--pid wants a process id, got '" + command_line.Get("pid") +
                  "'");
    }
  } else {
    absl::StatusOr<std::unique_ptr<TraceReader>> reader =
        TraceReader::Open(command_line.Get("trace"));
    if (!reader.ok()) return Fail(std::string(reader.status().message()));
    pid = (*reader)->header().pid();
  }
  absl::StatusOr<uint64_t> seq =
      RequestMarker(static_cast<pid_t>(pid), command_line.positional()[0],
                    absl::Milliseconds(*timeout_ms));
  if (!seq.ok()) return Fail(std::string(seq.status().message()));
  std::printf("marker '%s' at seq %llu\n", command_line.positional()[0].c_str(),
              static_cast<unsigned long long>(*seq));
  return kExitOk;
}

}  // namespace slabtrace
