// Writes a Redis-like synthetic trace (proto/testing/redis_like_stream.h) of
// any length, streaming: memory is O(live objects of the model), whatever
// the event count. For the whole-trace replay benchmark
// (tools/replay_scale.sh).
//
//   write_synthetic_trace OUT EVENTS [MARKER_EVERY]
//
// A marker (no statistics) is set every MARKER_EVERY events (default
// 100,000,000; 0 for none).

#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "proto/testing/redis_like_stream.h"
#include "proto/testing/test_header.h"
#include "proto/trace_writer.h"

namespace slabtrace {
namespace {

int Usage(const char* message) {
  std::fprintf(stderr,
               "write_synthetic_trace: %s\n"
               "usage: write_synthetic_trace OUT EVENTS [MARKER_EVERY]\n",
               message);
  return 2;
}

int Main(int argc, char** argv) {
  if (argc < 3 || argc > 4) return Usage("wrong number of arguments");
  uint64_t events = 0;
  uint64_t marker_every = 100000000;
  if (!absl::SimpleAtoi(argv[2], &events)) return Usage("bad EVENTS");
  if (argc == 4 && !absl::SimpleAtoi(argv[3], &marker_every)) {
    return Usage("bad MARKER_EVERY");
  }
  const TraceHeader header = JemallocTestHeader();
  absl::StatusOr<std::unique_ptr<TraceWriter>> writer =
      TraceWriter::Create(argv[1], header);
  if (!writer.ok()) {
    std::fprintf(stderr, "write_synthetic_trace: %s\n",
                 std::string(writer.status().message()).c_str());
    return 2;
  }
  RedisLikeStream stream(header, {});
  Event event;
  for (uint64_t i = 0; i < events; ++i) {
    if (marker_every != 0 && i != 0 && i % marker_every == 0) {
      Marker marker;
      marker.set_seq(i);
      marker.set_time_ns(event.time_ns);
      marker.set_label(absl::StrCat("at ", i));
      if (!(*writer)->AddMarker(marker).ok()) break;
    }
    stream.Next(&event);
    if (!(*writer)->Append(event).ok()) break;
  }
  TraceTrailer trailer;
  trailer.set_complete(true);
  const absl::Status closed = (*writer)->Close(trailer);
  if (!closed.ok() || (*writer)->failed()) {
    std::fprintf(
        stderr, "write_synthetic_trace: %s\n",
        closed.ok() ? "write failed" : std::string(closed.message()).c_str());
    return 1;
  }
  std::printf("%llu events, %llu bytes\n",
              static_cast<unsigned long long>((*writer)->events_appended()),
              static_cast<unsigned long long>((*writer)->bytes_written()));
  return 0;
}

}  // namespace
}  // namespace slabtrace

int main(int argc, char** argv) { return slabtrace::Main(argc, argv); }
