// RedisLikeStream generates an endless, deterministic (from a seed) stream
// of events shaped like a Redis server's malloc traffic, for benchmarks, the
// sample trace and large synthetic replays:
//   - a main thread issuing most calls, command by command: a few
//     short-lived temporaries per command (argv objects, strings, reply
//     buffers), freed when the command ends;
//   - writes that keep a key, a dict entry and a value alive, often in
//     bursts of same-size values (pipelines, MSET);
//   - deletes and a background lazy-free thread freeing long-lived objects
//     scattered across the heap; a couple of other background threads;
//   - reallocs that grow strings in place or by moving;
//   - occasional large buffers.
// Pointers come from a simulated slab allocator over the header geometry,
// so every pointer lies in a slab of its class and is never live twice.
// Memory is O(live objects), bounded by Options::max_live_objects.

#ifndef SLABTRACE_PROTO_TESTING_REDIS_LIKE_STREAM_H_
#define SLABTRACE_PROTO_TESTING_REDIS_LIKE_STREAM_H_

#include <cstdint>
#include <memory>

#include "proto/event.h"
#include "proto/trace.pb.h"

namespace slabtrace {

class RedisLikeStream {
 public:
  struct Options {
    uint64_t seed = 1;
    int background_threads = 3;
    // The key space: beyond this many long-lived objects, deletes win.
    uint64_t max_live_objects = 300000;
    // Mean time between two events of the main thread.
    uint64_t ns_per_event = 250;
  };

  // `header` must pass SlabGeometry::Create (e.g. JemallocTestHeader()).
  RedisLikeStream(const TraceHeader& header, const Options& options);
  ~RedisLikeStream();

  // Fills *event with the next event (seq numbers are dense from 0).
  // Always returns true: the stream does not end.
  bool Next(Event* event);

  // Objects live in the model, counting the current command's events even
  // if Next() has not handed them all out yet.
  uint64_t live_objects() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace slabtrace

#endif  // SLABTRACE_PROTO_TESTING_REDIS_LIKE_STREAM_H_
