// dump_trace FILE: every event, marker and the trailer of a small trace, one
// line each, for debugging the recorder and its tests.

#include <cstdio>

#include "record/testing/trace_contents.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: dump_trace FILE\n");
    return 2;
  }
  absl::StatusOr<slabtrace::TraceContents> trace =
      slabtrace::ReadWholeTrace(argv[1]);
  if (!trace.ok()) {
    std::fprintf(stderr, "%s\n", std::string(trace.status().message()).c_str());
    return 2;
  }
  size_t next_marker = 0;
  for (const slabtrace::Event& e : trace->events) {
    while (next_marker < trace->markers.size() &&
           trace->markers[next_marker].seq() <= e.seq) {
      std::printf("marker %s\n", trace->markers[next_marker++].label().c_str());
    }
    std::printf(
        "%llu t=%llu th=%u %s %s ptr=0x%llx size=%llu class=%u slab=0x%llx\n",
        (unsigned long long)e.seq, (unsigned long long)e.time_ns, e.thread,
        std::string(slabtrace::EventKindName(e.kind)).c_str(),
        std::string(slabtrace::AllocApiName(e.api)).c_str(),
        (unsigned long long)e.ptr, (unsigned long long)e.size, e.size_class,
        (unsigned long long)e.slab);
  }
  for (; next_marker < trace->markers.size(); ++next_marker) {
    std::printf("marker %s\n", trace->markers[next_marker].label().c_str());
  }
  if (trace->trailer)
    std::printf("trailer %s\n", trace->trailer->DebugString().c_str());
  for (const std::string& w : trace->warnings)
    std::printf("warning %s\n", w.c_str());
  absl::Status order = slabtrace::CheckOrder(*trace, true);
  std::printf("order: %s\n", order.ToString().c_str());
  if (trace->trailer) {
    std::printf("accounting: %s\n", slabtrace::CheckSymmetricAccounting(
                                        *trace->trailer, trace->CountEvents())
                                        .ToString()
                                        .c_str());
  }
  return 0;
}
