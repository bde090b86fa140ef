// `slabtrace`: the command line. Each subcommand lives in its own
// *_command.cc; this file only dispatches.

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "tools/check_command.h"
#include "tools/compare_command.h"
#include "tools/inspect_command.h"
#include "tools/internal/command.h"
#include "tools/mark_command.h"
#include "tools/record_command.h"
#include "tools/redis_command.h"
#include "tools/replay_command.h"
#include "tools/report_command.h"

namespace slabtrace {
namespace {

// One line per subcommand, in the order `slabtrace --help` lists them.
constexpr Subcommand kSubcommands[] = {
    {"record",
     "run a program with the recorder preloaded: malloc calls -> trace",
     RunRecord},
    {"mark", "put a marker with jemalloc stats into a running recording",
     RunMark},
    {"inspect", "print a trace's header, size classes, markers and counts",
     RunInspect},
    {"replay", "rebuild slab occupancy over time: DSR, footprint, histograms",
     RunReplay},
    {"compare", "the same traffic under other placement policies, side by side",
     RunCompare},
    {"report", "one self-contained HTML page: timelines, policies, slab maps",
     RunReport},
    {"check",
     "test thresholds on a trace's replay, for CI (exit 1 if any fails)",
     RunCheck},
    {"redis",
     "record a Redis scenario (scatter-delete, churn, ...) and replay it",
     RunRedis},
    {"demo", "the published experiment: 100,000 keys, odd ones deleted, DSR",
     RunDemo},
};

void PrintUsage(FILE* out) {
  std::fprintf(out,
               "usage: slabtrace COMMAND [options] [args]\n\n"
               "Records malloc traffic with its jemalloc slabs, replays it "
               "offline and\ncompares placement policies by drainable slab "
               "ratio (DSR).\n\ncommands:\n");
  for (const Subcommand& command : kSubcommands) {
    std::fprintf(out, "  %-10s %s\n", command.name, command.summary);
  }
  std::fprintf(out, "\n`slabtrace COMMAND --help` explains each command.\n");
}

int Main(int argc, char** argv) {
  if (argc < 2) {
    PrintUsage(stderr);
    return kExitBadInput;
  }
  const std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    PrintUsage(stdout);
    return kExitOk;
  }
  for (const Subcommand& command : kSubcommands) {
    if (name == command.name) {
      return command.run(std::vector<std::string>(argv + 2, argv + argc));
    }
  }
  std::fprintf(stderr,
               "slabtrace: unknown command '%s' (see slabtrace --help)\n",
               name.c_str());
  return kExitBadInput;
}

}  // namespace
}  // namespace slabtrace

int main(int argc, char** argv) { return slabtrace::Main(argc, argv); }
