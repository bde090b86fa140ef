// Time and size of RenderHtmlReport on synthetic inputs: the Redis-sized
// scatter-delete experiment, and the 100 M-event scale (a million sweeps,
// 500,000 slabs in each of two classes). Reports the output size as a
// counter. Run: bazel run //tools/report:html_report_benchmark

#include <string>

#include "benchmark/benchmark.h"
#include "tools/report/html_report.h"
#include "tools/report/testing/synthetic_report.h"

namespace slabtrace {
namespace {

void BM_RenderHtmlReport(benchmark::State& state) {
  SyntheticReportShape shape;
  shape.sweeps = static_cast<size_t>(state.range(0));
  shape.slabs = static_cast<size_t>(state.range(1));
  shape.small_class_slabs = static_cast<size_t>(state.range(1));
  const ReportInput input = ScatterDeleteReport(shape);
  size_t bytes = 0;
  for (auto _ : state) {
    const std::string html = RenderHtmlReport(input);
    bytes = html.size();
    benchmark::DoNotOptimize(html.data());
  }
  state.counters["output_bytes"] = static_cast<double>(bytes);
  state.counters["sweeps/s"] =
      benchmark::Counter(static_cast<double>(shape.sweeps),
                         benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_RenderHtmlReport)
    ->Args({2000, 6250})
    ->Args({100000, 50000})
    ->Args({1000000, 500000})
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace slabtrace
