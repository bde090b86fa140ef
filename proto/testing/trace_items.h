// Test helpers for whole traces: a trace as a flat list of items (events and
// markers in file order), random item lists for property tests, and
// writing/reading such a list through the real TraceWriter and TraceReader.

#ifndef SLABTRACE_PROTO_TESTING_TRACE_ITEMS_H_
#define SLABTRACE_PROTO_TESTING_TRACE_ITEMS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/event.h"
#include "proto/trace.pb.h"
#include "proto/trace_reader.h"
#include "proto/trace_writer.h"

namespace slabtrace {

struct TraceItem {
  bool is_marker = false;
  Event event;    // when !is_marker
  Marker marker;  // when is_marker

  friend bool operator==(const TraceItem& a, const TraceItem& b);
};

// Random events (every kind and api, threads, sizes, classes of `header`,
// aligned and unaligned pointers, sequence gaps) with markers, some carrying
// allocator stats, sprinkled in. Event times are multiples of the header's
// time resolution so they survive the writer's quantisation; `slab` is
// filled in from the header geometry, as the reader does.
std::vector<TraceItem> RandomTraceItems(uint64_t seed, int num_events,
                                        const TraceHeader& header);

// Random events whose pointers start regions of their classes, as a slab
// allocator's do, in the patterns the reference coding names: frees of
// recent allocations (LIFO and not), allocations that reuse recent frees,
// resizes, frees of never-seen pointers; classes at both ends of the table
// and the first large one; slabs near address 0 and near the top of the
// address space; large pointers at any offset in their page (aligned or
// not). `misfits_per_mille` of the small-class pointers (on average) start
// no region, which the writer must still accept. Markers as in
// RandomTraceItems.
std::vector<TraceItem> RandomSlabTraceItems(uint64_t seed, int num_events,
                                            const TraceHeader& header,
                                            int misfits_per_mille = 0);

// Writes `items` with TraceWriter into memory and returns the file bytes.
// With `close` false the trailer is not written (as if the recorder died
// after its last flush).
absl::StatusOr<std::string> WriteTrace(const std::vector<TraceItem>& items,
                                       const TraceHeader& header,
                                       const TraceWriterOptions& options,
                                       bool close = true);

// Drains `reader` into items.
absl::StatusOr<std::vector<TraceItem>> ReadAllItems(TraceReader* reader);

}  // namespace slabtrace

#endif  // SLABTRACE_PROTO_TESTING_TRACE_ITEMS_H_
