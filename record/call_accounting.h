// Symmetric accounting: what a trailer's calls_by_api says the event stream
// must contain. The recorder counts every call at its entry point, by API
// and by outcome ("<api>" = all calls, "<api>.<outcome>" for the outcomes
// below); the writer counts events by kind. For a complete trace:
//
//   alloc  = Σ alloc-family calls − failed  + Σ realloc-family (moved +
//   from_null) free   = Σ free-family calls  − null    + Σ realloc-family
//   (moved + freed) resize = Σ realloc-family and xallocx in_place
//
// and per API the same with the events' `api`. Outcomes: failed (NULL
// returned, or xallocx could not grow: no event), null (free-family call
// with NULL: no event), moved (kAlloc new + kFree old), in_place (kResize),
// from_null (realloc(NULL, n): kAlloc), freed (realloc(p, 0) returned NULL
// after freeing p: kFree).

#ifndef SLABTRACE_RECORD_CALL_ACCOUNTING_H_
#define SLABTRACE_RECORD_CALL_ACCOUNTING_H_

#include <array>
#include <cstdint>

#include "absl/status/status.h"
#include "proto/event.h"
#include "proto/trace.pb.h"

namespace slabtrace {

// Events by [api][kind].
using EventCounts =
    std::array<std::array<uint64_t, kNumEventKinds>, kNumAllocApis>;

// The events the calls in `calls_by_api` imply.
EventCounts ExpectedEvents(const TraceTrailer& trailer);

// Compares the trailer's call counts with `counted` (events actually read,
// by api and kind) and with its own events_by_kind. The error names the
// first API/kind that disagrees.
absl::Status CheckSymmetricAccounting(const TraceTrailer& trailer,
                                      const EventCounts& counted);

}  // namespace slabtrace

#endif  // SLABTRACE_RECORD_CALL_ACCOUNTING_H_
