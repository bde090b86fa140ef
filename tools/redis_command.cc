#include "tools/redis_command.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "proto/report.pb.h"
#include "proto/sim.pb.h"
#include "proto/trace_reader.h"
#include "replay/object_stream.h"
#include "replay/replayer.h"
#include "replay/report_format.h"
#include "sim/compare.h"
#include "sim/comparison_output.h"
#include "tools/internal/command.h"
#include "tools/internal/command_line.h"
#include "tools/redis/redis_server.h"
#include "tools/redis/resp_client.h"
#include "tools/redis/scenarios.h"

namespace slabtrace {
namespace {

constexpr char kTool[] = "slabtrace redis";

struct RunSettings {
  std::string scenario;
  ScenarioParams params;
  std::string output;
  bool record = true;
  bool by_class = true;
  std::string redis_server = "redis-server";
  std::string slabtrace;              // "" = this executable
  std::vector<std::string> policies;  // empty: all
};

void AddScenarioOptions(CommandLine& command_line,
                        const ScenarioParams& defaults) {
  command_line.AddOption("keys", absl::StrCat(defaults.keys),
                         "keys written (hashes: fields in total)");
  command_line.AddOption("value-size", absl::StrCat(defaults.value_size),
                         "bytes per value");
  command_line.AddOption("seed", absl::StrCat(defaults.seed),
                         "seed of every random choice");
  command_line.AddOption("batch", absl::StrCat(defaults.batch),
                         "commands per pipelined round trip");
  command_line.AddOption("sizes", absl::StrJoin(defaults.sizes, ","),
                         "mixed-sizes: value sizes");
  command_line.AddOption("delete-fraction",
                         absl::StrCat(defaults.delete_fraction),
                         "mixed-sizes: share of keys deleted");
  command_line.AddOption("waves", absl::StrCat(defaults.waves),
                         "expire: TTL waves");
  command_line.AddOption("wave-ms", absl::StrCat(defaults.wave_ms),
                         "expire: milliseconds between waves");
  command_line.AddOption("ops", absl::StrCat(defaults.ops),
                         "churn: operations (0: 4 x keys)");
  command_line.AddOption("phases", absl::StrCat(defaults.phases),
                         "churn: marked phases");
  command_line.AddOption("hashes", absl::StrCat(defaults.hashes),
                         "hashes: number of hash keys");
  command_line.AddOption("output", "",
                         "trace file (default: SCENARIO.slabtrace)", "o");
  command_line.AddOption("redis-server", "redis-server",
                         "the redis-server binary (looked up in PATH)");
  command_line.AddOption("slabtrace", "",
                         "the slabtrace binary that records and marks "
                         "(default: this one)");
  command_line.AddOption("policies", "",
                         "policies to compare (default: all eight)");
  command_line.AddFlag("no-record",
                       "drive the scenario without recording (no trace)");
}

absl::StatusOr<ScenarioParams> ReadScenarioParams(
    const CommandLine& command_line) {
  ScenarioParams p;
  for (auto [name, field] : std::vector<std::pair<const char*, int64_t*>>{
           {"keys", &p.keys},
           {"value-size", &p.value_size},
           {"batch", &p.batch},
           {"waves", &p.waves},
           {"wave-ms", &p.wave_ms},
           {"ops", &p.ops},
           {"phases", &p.phases},
           {"hashes", &p.hashes}}) {
    absl::StatusOr<int64_t> value = command_line.GetInt(name);
    if (!value.ok()) return value.status();
    *field = *value;
  }
  absl::StatusOr<int64_t> seed = command_line.GetInt("seed");
  if (!seed.ok()) return seed.status();
  p.seed = static_cast<uint64_t>(*seed);
  absl::StatusOr<double> fraction = command_line.GetDouble("delete-fraction");
  if (!fraction.ok()) return fraction.status();
  p.delete_fraction = *fraction;
  absl::StatusOr<std::vector<std::string>> sizes =
      command_line.GetList("sizes");
  if (!sizes.ok()) return sizes.status();
  p.sizes.clear();
  for (const std::string& size : *sizes) {
    int64_t value = 0;
    if (!absl::SimpleAtoi(size, &value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("option --sizes: '", size, "' is not an integer"));
    }
    p.sizes.push_back(value);
  }
  return p;
}

absl::StatusOr<std::string> SelfPath() {
  char buffer[4096];
  const ssize_t n = readlink("/proc/self/exe", buffer, sizeof(buffer) - 1);
  if (n <= 0) return absl::InternalError("cannot find /proc/self/exe");
  return std::string(buffer, n);
}

// The recorder runs in the server's private directory, so a relative -o
// must be resolved against ours first.
absl::StatusOr<std::string> AbsolutePath(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  char buffer[4096];
  if (getcwd(buffer, sizeof(buffer)) == nullptr) {
    return absl::InternalError("cannot read the current directory");
  }
  return absl::StrCat(buffer, "/", path);
}

// Runs argv to completion with its output appended to `log`; returns the
// exit status.
absl::StatusOr<int> RunProcess(const std::vector<std::string>& argv,
                               const std::string& log) {
  std::vector<char*> raw;
  std::vector<std::string> copy = argv;
  for (std::string& arg : copy) raw.push_back(arg.data());
  raw.push_back(nullptr);
  const int fd =
      open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
    }
    execv(raw[0], raw.data());
    _exit(127);
  }
  if (fd >= 0) close(fd);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// The marker callback: INFO memory into FILE.info (the recorder's marker
// protocol carries only a label), then `slabtrace mark --pid PID LABEL`.
class Marker {
 public:
  Marker(RespClient& client, std::string self, pid_t pid, std::string info_path,
         std::string log_path, bool record)
      : client_(client),
        self_(std::move(self)),
        pid_(pid),
        info_path_(std::move(info_path)),
        log_path_(std::move(log_path)),
        record_(record) {}

  absl::Status Mark(absl::string_view label) {
    std::fprintf(stderr, "%s: phase done: %s (%s)\n", kTool,
                 std::string(label).c_str(),
                 absl::FormatDuration(absl::Now() - start_).c_str());
    absl::StatusOr<RespReply> info = client_.Call({"INFO", "memory"});
    if (!info.ok()) return info.status();
    if (!record_) return absl::OkStatus();
    std::ofstream out(info_path_, std::ios::app);
    out << "[" << label << "]\n";
    for (const auto& [key, value] : ParseInfo(info->str)) {
      out << key << ":" << value << "\n";
    }
    absl::StatusOr<int> status = RunProcess(
        {self_, "mark", "--pid", absl::StrCat(pid_), std::string(label)},
        log_path_);
    if (!status.ok()) return status.status();
    if (*status != 0) {
      return absl::UnavailableError(
          absl::StrCat("slabtrace mark --pid ", pid_, " ", label,
                       " exited with ", *status, " (see ", log_path_, ")"));
    }
    return absl::OkStatus();
  }

 private:
  RespClient& client_;
  std::string self_;
  pid_t pid_;
  std::string info_path_;
  std::string log_path_;
  bool record_;
  absl::Time start_ = absl::Now();
};

// Per size class at one marker: the replay beside jemalloc's own numbers.
std::string ClassTable(const Sweep& marker) {
  std::string out = absl::StrCat(
      "\nper size class at marker '", marker.label(),
      "' (replay beside jemalloc's own statistics):\n",
      absl::StrFormat("%8s %6s %12s %10s %10s %16s %12s %12s  %s\n", "class",
                      "nregs", "pinned slabs", "live regs", "regs/slab",
                      "DSR since marker", "je curslabs", "je curregs",
                      "within bound"));
  for (const ClassOccupancy& c : marker.classes()) {
    const Occupancy& o = c.occupancy();
    if (c.nregs() == 0 || o.pinned_slabs() == 0) continue;
    std::string curslabs = "-", curregs = "-", within = "-";
    for (const GroundTruthClass& t : marker.ground_truth().classes()) {
      if (t.size_class() != c.size_class()) continue;
      curslabs = WithCommas(t.jemalloc_curslabs());
      curregs = WithCommas(t.jemalloc_curregs());
      within =
          t.within_bound() ? "yes" : absl::StrCat("NO (bound ", t.bound(), ")");
    }
    absl::StrAppend(
        &out, absl::StrFormat(
                  "%8d %6d %12s %10s %10s %16s %12s %12s  %s\n", c.class_size(),
                  c.nregs(), WithCommas(o.pinned_slabs()),
                  WithCommas(o.live_objects()),
                  absl::StrFormat(
                      "%.1f/%d",
                      static_cast<double>(o.live_objects()) / o.pinned_slabs(),
                      c.nregs()),
                  HumanDsr(o.dsr_since_marker()), curslabs, curregs, within));
  }
  return out;
}

// The table a user came for: per marker the heap's slabs and DSR, then per
// size class at every marker, beside jemalloc's own numbers.
std::string Summary(const Report& report) {
  std::string out =
      absl::StrFormat("%-12s %12s %12s %12s %12s %12s  %s\n", "marker",
                      "live objects", "live bytes", "pinned slabs", "footprint",
                      "stranded", "DSR since marker");
  for (const Sweep& sweep : report.sweeps()) {
    if (sweep.kind() == Sweep::INTERVAL) continue;
    const Occupancy& o = sweep.total();
    absl::StrAppend(
        &out,
        absl::StrFormat(
            "%-12s %12s %12s %12s %12s %12s  %s\n", sweep.label(),
            WithCommas(o.live_objects()), HumanBytes(o.live_bytes()),
            WithCommas(o.pinned_slabs()), HumanBytes(o.footprint_bytes()),
            HumanBytes(o.stranded_bytes()), HumanDsr(o.dsr_since_marker())));
  }
  for (const Sweep& sweep : report.sweeps()) {
    if (sweep.kind() == Sweep::MARKER) absl::StrAppend(&out, ClassTable(sweep));
  }
  return out;
}

// `slabtrace compare TRACE --policies ...` through the library: the same
// table, so the two commands never disagree.
absl::StatusOr<std::string> PolicyComparison(
    const std::string& path, const std::vector<std::string>& policies) {
  CompareOptions options;
  options.policies = policies;
  options.trace_name = path;
  absl::StatusOr<Comparison> comparison =
      Compare([&path] { return OpenObjectStream(path); }, options);
  if (!comparison.ok()) return comparison.status();
  return FormatTable(*comparison);
}

absl::StatusOr<Report> Replay(const std::string& path) {
  absl::StatusOr<std::unique_ptr<TraceReader>> reader = TraceReader::Open(path);
  if (!reader.ok()) return reader.status();
  ReplayOptions options;
  options.set_by_class(true);
  Replayer replayer(**reader, options);
  return replayer.Run();
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "%s: %s\n", kTool,
               std::string(status.message()).c_str());
  return kExitBadInput;
}

int Record(const RunSettings& settings) {
  absl::StatusOr<std::unique_ptr<Scenario>> scenario =
      CreateScenario(settings.scenario, settings.params);
  if (!scenario.ok()) return Fail(scenario.status());
  absl::StatusOr<std::string> self =
      settings.slabtrace.empty() ? SelfPath() : settings.slabtrace;
  if (!self.ok()) return Fail(self.status());

  RedisServerOptions options;
  options.binary = settings.redis_server;
  if (settings.record) {
    options.command_prefix = {*self, "record", "-o", settings.output, "--"};
  }
  absl::StatusOr<std::unique_ptr<RedisServer>> server =
      RedisServer::Start(options);
  if (!server.ok()) return Fail(server.status());
  std::fprintf(stderr, "%s: redis-server (pid %d) on 127.0.0.1:%d%s\n", kTool,
               (*server)->server_pid(), (*server)->port(),
               settings.record
                   ? absl::StrCat(", recording to ", settings.output).c_str()
                   : "");
  absl::StatusOr<std::unique_ptr<RespClient>> client = (*server)->Connect();
  if (!client.ok()) return Fail(client.status());
  const std::string info_path = settings.output + ".info";
  if (settings.record) std::remove(info_path.c_str());
  Marker marker(**client, *self, (*server)->server_pid(), info_path,
                (*server)->directory() + "/mark.log", settings.record);
  absl::Status run = (*scenario)->Run(
      **client, [&](absl::string_view label) { return marker.Mark(label); });
  client->reset();
  absl::StatusOr<int> stopped = (*server)->Stop();
  const std::string console = (*server)->ReadConsole();
  if (!console.empty()) std::fprintf(stderr, "%s", console.c_str());
  if (!run.ok()) return Fail(run);
  if (!stopped.ok()) return Fail(stopped.status());
  if (*stopped != 0) {
    return Fail(absl::InternalError(
        absl::StrCat("redis-server exited with status ", *stopped)));
  }
  if (!settings.record) return kExitOk;

  absl::StatusOr<Report> report = Replay(settings.output);
  if (!report.ok()) return Fail(report.status());
  std::printf("%s: %s\n\n%s", settings.output.c_str(),
              settings.scenario.c_str(), Summary(*report).c_str());
  std::printf("\nINFO memory at each marker: %s\n", info_path.c_str());
  std::fflush(stdout);
  absl::StatusOr<std::string> comparison =
      PolicyComparison(settings.output, settings.policies);
  if (!comparison.ok()) return Fail(comparison.status());
  std::printf("\npolicy comparison (`slabtrace compare %s`):\n%s",
              settings.output.c_str(), comparison->c_str());
  return kExitOk;
}

int RunWithDefaults(const std::vector<std::string>& args,
                    const std::string& usage, const std::string& summary,
                    const ScenarioParams& defaults, bool demo) {
  CommandLine command_line(usage, summary);
  AddScenarioOptions(command_line, defaults);
  if (absl::Status s = command_line.Parse(args); !s.ok()) return Fail(s);
  if (command_line.help_requested()) {
    std::printf("%s", command_line.HelpText().c_str());
    return kExitOk;
  }
  RunSettings settings;
  if (demo) {
    if (!command_line.positional().empty()) {
      return Fail(absl::InvalidArgumentError("demo takes no arguments"));
    }
    settings.scenario = "scatter-delete";
  } else {
    if (command_line.positional().size() != 1) {
      return Fail(absl::InvalidArgumentError(
          "wants exactly one SCENARIO (see --help)"));
    }
    settings.scenario = command_line.positional()[0];
  }
  absl::StatusOr<ScenarioParams> params = ReadScenarioParams(command_line);
  if (!params.ok()) return Fail(params.status());
  settings.params = *params;
  absl::StatusOr<std::string> output = AbsolutePath(
      command_line.Get("output").empty() ? settings.scenario + ".slabtrace"
                                         : command_line.Get("output"));
  if (!output.ok()) return Fail(output.status());
  settings.output = *std::move(output);
  settings.record = !command_line.GetFlag("no-record");
  settings.redis_server = command_line.Get("redis-server");
  settings.slabtrace = command_line.Get("slabtrace");
  if (command_line.Has("policies")) {
    absl::StatusOr<std::vector<std::string>> policies =
        command_line.GetList("policies");
    if (!policies.ok()) return Fail(policies.status());
    settings.policies = *std::move(policies);
  }
  if (absl::Status s = ValidatePolicies(settings.policies); !s.ok()) {
    return Fail(s);
  }
  return Record(settings);
}

std::string ScenarioHelp() {
  std::string text = "scenarios:\n";
  for (const ScenarioInfo& info : AllScenarios()) {
    absl::StrAppend(
        &text, absl::StrFormat("  %-15s %s\n", info.name, info.description));
  }
  return text;
}

}  // namespace

int RunRedis(const std::vector<std::string>& args) {
  return RunWithDefaults(
      args, "slabtrace redis SCENARIO [options] [-o FILE]",
      absl::StrCat(
          "Starts Debian's redis-server under `slabtrace record` on a free\n"
          "loopback port, drives SCENARIO with a marker at each phase\n"
          "boundary (INFO memory at each marker goes to FILE.info), shuts\n"
          "it down and prints the replay summary and the policy "
          "comparison.\n\n",
          ScenarioHelp()),
      ScenarioParams(), /*demo=*/false);
}

int RunDemo(const std::vector<std::string>& args) {
  ScenarioParams defaults;
  defaults.keys = 100000;
  defaults.value_size = 1024;
  return RunWithDefaults(
      args, "slabtrace demo [options]",
      "The published experiment: record redis-server while it writes "
      "100,000 keys\nwith 1 KiB values and deletes the odd keys, then show "
      "slabs, pinned slabs\nand DSR per size class beside jemalloc's own "
      "statistics, and the same\ntraffic under every placement policy.",
      defaults, /*demo=*/true);
}

}  // namespace slabtrace
