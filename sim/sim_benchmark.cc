// Simulator throughput and memory.
//
//  BM_Policy/<policy>: events/s of one policy over a 2 M-event synthetic
//    stream held in memory (the stream's own cost is BM_StreamOnly; the
//    oracle's rate includes its first pass over the stream).
//  BM_CompareAll: a full compare of all eight policies, one thread each, on
//    a streaming synthetic trace of SIM_BENCHMARK_EVENTS events (default
//    2 M; the README's 100 M figure sets it), reporting peak RSS.
//
//   bazel run -c opt //sim:sim_benchmark
//   SIM_BENCHMARK_EVENTS=100000000 bazel run -c opt //sim:sim_benchmark --
//       --benchmark_filter=BM_CompareAll  (one command line)

#include <sys/resource.h>

#include <cstdlib>
#include <string>

#include "benchmark/benchmark.h"
#include "proto/testing/test_header.h"
#include "sim/compare.h"
#include "sim/policy_registry.h"
#include "sim/simulation.h"
#include "sim/testing/random_object_stream.h"
#include "sim/testing/vector_object_stream.h"

namespace slabtrace {
namespace {

RandomStreamOptions BenchmarkStream(uint64_t events) {
  RandomStreamOptions options;
  options.seed = 42;
  options.events = events;
  options.phase_events = events / 10;
  options.max_live = 200000;
  options.threads = 4;
  return options;
}

const StreamContents& InMemoryStream() {
  static const StreamContents* contents = [] {
    std::unique_ptr<RandomObjectStream> stream = *RandomObjectStream::Create(
        JemallocTestHeader(), BenchmarkStream(2000000));
    return new StreamContents(*Materialize(*stream));
  }();
  return *contents;
}

void BM_StreamOnly(benchmark::State& state) {
  const StreamContents& contents = InMemoryStream();
  for (auto _ : state) {
    std::unique_ptr<VectorObjectStream> stream =
        *VectorObjectStream::Open(contents);
    ObjectEvent event;
    uint64_t n = 0;
    while (*stream->Next(&event)) ++n;
    benchmark::DoNotOptimize(n);
  }
  state.SetItemsProcessed(state.iterations() * contents.events.size());
}
BENCHMARK(BM_StreamOnly)->Unit(benchmark::kMillisecond);

void BM_Policy(benchmark::State& state, const std::string& policy,
               bool tcache) {
  const StreamContents& contents = InMemoryStream();
  SimOptions options;
  options.tcache = tcache;
  for (auto _ : state) {
    absl::StatusOr<PolicyRun> run =
        SimulatePolicy(policy, VectorStreamFactory(contents), options);
    if (!run.ok()) state.SkipWithError(run.status().ToString().c_str());
    benchmark::DoNotOptimize(run);
  }
  state.SetItemsProcessed(state.iterations() * contents.events.size());
}

void BM_CompareAll(benchmark::State& state) {
  const char* env = std::getenv("SIM_BENCHMARK_EVENTS");
  const uint64_t events =
      env != nullptr ? std::strtoull(env, nullptr, 10) : 2000000;
  RandomStreamOptions stream = BenchmarkStream(events);
  stream.max_live = 1000000;
  const StreamFactory factory =
      RandomStreamFactory(JemallocTestHeader(), stream);
  for (auto _ : state) {
    absl::StatusOr<Comparison> comparison = Compare(factory, {});
    if (!comparison.ok()) {
      state.SkipWithError(comparison.status().ToString().c_str());
    }
    benchmark::DoNotOptimize(comparison);
  }
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  state.counters["peak_rss_MiB"] = usage.ru_maxrss / 1024.0;
  state.counters["events"] = static_cast<double>(events);
  state.SetItemsProcessed(state.iterations() * events * 8);
}
BENCHMARK(BM_CompareAll)
    ->Unit(benchmark::kSecond)
    ->Iterations(1)
    ->UseRealTime();

const bool kRegistered = [] {
  for (const std::string& policy : PolicyNames()) {
    benchmark::RegisterBenchmark(("BM_Policy/" + policy).c_str(), BM_Policy,
                                 policy, false)
        ->Unit(benchmark::kMillisecond);
  }
  benchmark::RegisterBenchmark("BM_Policy/jemalloc+tcache", BM_Policy,
                               std::string("jemalloc"), true)
      ->Unit(benchmark::kMillisecond);
  return true;
}();

}  // namespace
}  // namespace slabtrace
