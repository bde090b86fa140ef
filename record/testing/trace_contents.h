// Test helpers: a whole (small) trace in memory, and the invariants every
// recorded trace must satisfy. For tests and debugging tools only: real
// traces are streamed, never loaded whole.

#ifndef SLABTRACE_RECORD_TESTING_TRACE_CONTENTS_H_
#define SLABTRACE_RECORD_TESTING_TRACE_CONTENTS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/event.h"
#include "proto/trace.pb.h"
#include "record/call_accounting.h"

namespace slabtrace {

struct TraceContents {
  TraceHeader header;
  std::vector<Event> events;  // with `slab` filled in by the reader.
  std::vector<Marker> markers;
  std::optional<TraceTrailer> trailer;
  std::vector<std::string> warnings;

  EventCounts CountEvents() const;
};

absl::StatusOr<TraceContents> ReadWholeTrace(const std::string& path);

// Sequence numbers dense from 0; no free of an address that is not live
// unless it was never allocated in the trace (allocated before recording
// began) and `allow_unknown_frees`; no allocation of an address that is
// already live; markers in seq order.
absl::Status CheckOrder(const TraceContents& trace, bool allow_unknown_frees);

}  // namespace slabtrace

#endif  // SLABTRACE_RECORD_TESTING_TRACE_CONTENTS_H_
