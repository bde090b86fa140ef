// Replay throughput and memory on the Redis-like synthetic stream
// (proto/testing/redis_like_stream.h).
//
//   bazel run -c opt //replay:replay_benchmark --
//     --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//   (one command line)
//
// Targets (issue 4): >= 50 M events/s on one core; <= 64 bytes per live
// object (SlabOccupancy::table_bytes(): every table and array of the state,
// at the end of the run).
//  - BM_ApplyEvents: SlabOccupancy alone over decoded events in memory.
//  - BM_ReplayFile: the whole path, file -> TraceReader -> Replayer -> Report.
//  - BM_Sweep: one sweep at the end state (O(granules), not O(objects)).
//  - BM_ApplyRedisTraces / BM_ReplayRedisTraces: the same two paths on the
//    real redis-server recordings of testdata/redis/ (all six, back to
//    back; events/s over their total), which is what the target is about.

#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "proto/slab_geometry.h"
#include "proto/testing/redis_like_stream.h"
#include "proto/testing/test_header.h"
#include "proto/trace_reader.h"
#include "proto/trace_writer.h"
#include "replay/replayer.h"
#include "replay/slab_occupancy.h"

namespace slabtrace {
namespace {

constexpr int kEvents = 1 << 23;  // 8 M

const SlabGeometry& Geometry() {
  static const SlabGeometry* geometry =
      new SlabGeometry(*SlabGeometry::Create(JemallocTestHeader()));
  return *geometry;
}

// Events as TraceReader hands them out (granule filled in), from a key
// space of `max_live` long-lived objects.
std::vector<Event> MakeStream(uint64_t max_live) {
  std::vector<Event> events(kEvents);
  RedisLikeStream stream(JemallocTestHeader(),
                         {.seed = 1, .max_live_objects = max_live});
  for (Event& e : events) {
    stream.Next(&e);
    e.slab = Geometry().GranuleOf(e.ptr, e.size_class);
  }
  return events;
}

constexpr uint64_t kDefaultLive = 300000;

const std::vector<Event>& Stream(uint64_t max_live = kDefaultLive) {
  static auto* streams = new std::map<uint64_t, std::vector<Event>>;
  auto it = streams->find(max_live);
  if (it == streams->end()) {
    it = streams->emplace(max_live, MakeStream(max_live)).first;
  }
  return it->second;
}

const std::string& TraceFile() {
  static const std::string* path = [] {
    const char* dir = std::getenv("TEST_TMPDIR");
    auto* p = new std::string(std::string(dir != nullptr ? dir : "/tmp") +
                              "/replay_benchmark." + std::to_string(getpid()) +
                              ".slabtrace");
    auto writer = *TraceWriter::Create(*p, JemallocTestHeader());
    for (const Event& e : Stream()) (void)writer->Append(e);
    (void)writer->Close();
    std::atexit([] { std::remove(TraceFile().c_str()); });
    return p;
  }();
  return *path;
}

// Arg: the key space (long-lived objects) of the stream.
void BM_ApplyEvents(benchmark::State& state) {
  const std::vector<Event>& events = Stream(state.range(0));
  double bytes_per_object = 0;
  double live = 0;
  for (auto _ : state) {
    SlabOccupancy occupancy(Geometry());
    occupancy.ApplyAll(events, 0);
    benchmark::DoNotOptimize(occupancy.live_objects());
    live = static_cast<double>(occupancy.live_objects());
    bytes_per_object = static_cast<double>(occupancy.table_bytes()) / live;
  }
  state.SetItemsProcessed(state.iterations() * events.size());
  state.counters["live_objects"] = live;
  state.counters["bytes_per_live_object"] = bytes_per_object;
}
BENCHMARK(BM_ApplyEvents)
    ->Arg(10000)
    ->Arg(kDefaultLive)
    ->Arg(3000000)
    ->Unit(benchmark::kMillisecond);

void BM_ReplayFile(benchmark::State& state) {
  const std::string& path = TraceFile();
  ReplayOptions options;
  options.set_every_events(state.range(0));
  for (auto _ : state) {
    auto reader = *TraceReader::Open(path);
    Replayer replayer(*reader, options);
    absl::StatusOr<Report> report = replayer.Run();
    if (!report.ok()) state.SkipWithError("replay failed");
    benchmark::DoNotOptimize(report);
  }
  state.SetItemsProcessed(state.iterations() * Stream().size());
}
// 0: sweep at the end only; 1 M: sweep every million events.
BENCHMARK(BM_ReplayFile)->Arg(0)->Arg(1 << 20)->Unit(benchmark::kMillisecond);

void BM_Sweep(benchmark::State& state) {
  SlabOccupancy occupancy(Geometry());
  occupancy.ApplyAll(Stream(), 0);
  for (auto _ : state) {
    benchmark::DoNotOptimize(occupancy.Sweep(WindowReset::kSweepOnly));
  }
  state.counters["granules"] =
      static_cast<double>(occupancy.tracked_granules());
  state.counters["live_objects"] =
      static_cast<double>(occupancy.live_objects());
}
BENCHMARK(BM_Sweep)->Unit(benchmark::kMicrosecond);

// The recorded Redis traces (data of this target: testdata:redis_traces),
// found in the runfiles whether run by `bazel run` or straight from
// bazel-bin.
constexpr const char* kRedisScenarios[] = {
    "scatter-delete", "flushall", "expire", "mixed-sizes", "churn", "hashes"};

std::string RunfilesDir() {
  if (const char* dir = std::getenv("RUNFILES_DIR")) return dir;
  char exe[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  return n > 0 ? std::string(exe, n) + ".runfiles" : ".";
}

std::vector<std::string> RedisTracePaths() {
  const std::string relative = "testdata/redis/";
  for (const std::string& base :
       {std::string("."), RunfilesDir() + "/slabtrace"}) {
    std::vector<std::string> paths;
    for (const char* scenario : kRedisScenarios) {
      const std::string path = base + "/" + relative + scenario + ".slabtrace";
      if (access(path.c_str(), R_OK) != 0) break;
      paths.push_back(path);
    }
    if (paths.size() == std::size(kRedisScenarios)) return paths;
  }
  return {};
}

struct RedisTrace {
  std::unique_ptr<SlabGeometry> geometry;
  std::vector<Event> events;  // as TraceReader hands them out.
};

const std::vector<RedisTrace>& RedisTraces() {
  static const auto* traces = [] {
    auto* out = new std::vector<RedisTrace>;
    for (const std::string& path : RedisTracePaths()) {
      auto reader = TraceReader::Open(path);
      if (!reader.ok()) break;
      RedisTrace trace;
      trace.geometry = std::make_unique<SlabGeometry>((*reader)->geometry());
      TraceRecord record;
      while (true) {
        absl::StatusOr<bool> more = (*reader)->Next(&record);
        if (!more.ok() || !*more) break;
        if (record.type != TraceRecord::Type::kEvents) continue;
        trace.events.insert(trace.events.end(), record.events.begin(),
                            record.events.end());
      }
      out->push_back(std::move(trace));
    }
    return out;
  }();
  return *traces;
}

uint64_t RedisEvents() {
  uint64_t n = 0;
  for (const RedisTrace& trace : RedisTraces()) n += trace.events.size();
  return n;
}

// SlabOccupancy alone over each Redis trace's decoded events (no sweeps).
void BM_ApplyRedisTraces(benchmark::State& state) {
  if (RedisTraces().size() != std::size(kRedisScenarios)) {
    state.SkipWithError("testdata/redis traces not found in the runfiles");
    return;
  }
  for (auto _ : state) {
    for (const RedisTrace& trace : RedisTraces()) {
      SlabOccupancy occupancy(*trace.geometry);
      occupancy.ApplyAll(trace.events, 0);
      benchmark::DoNotOptimize(occupancy.live_objects());
    }
  }
  state.SetItemsProcessed(state.iterations() * RedisEvents());
  state.counters["events"] = static_cast<double>(RedisEvents());
}
BENCHMARK(BM_ApplyRedisTraces)->Unit(benchmark::kMillisecond);

// file -> TraceReader -> Replayer -> Report over the six Redis traces, with
// the options of their goldens (by class; sweeps at every marker and end).
void BM_ReplayRedisTraces(benchmark::State& state) {
  const std::vector<std::string> paths = RedisTracePaths();
  if (paths.size() != std::size(kRedisScenarios)) {
    state.SkipWithError("testdata/redis traces not found in the runfiles");
    return;
  }
  ReplayOptions options;
  options.set_by_class(true);
  for (auto _ : state) {
    for (const std::string& path : paths) {
      auto reader = *TraceReader::Open(path);
      Replayer replayer(*reader, options);
      absl::StatusOr<Report> report = replayer.Run();
      if (!report.ok()) state.SkipWithError("replay failed");
      benchmark::DoNotOptimize(report);
    }
  }
  state.SetItemsProcessed(state.iterations() * RedisEvents());
}
BENCHMARK(BM_ReplayRedisTraces)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace slabtrace

BENCHMARK_MAIN();
