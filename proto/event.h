// The in-memory form of one recorded allocator call, as TraceWriter takes it
// and TraceReader hands it out. The file stores these as delta+varint columns
// (proto/internal/event_columns.h); this struct is the only thing the rest of
// the pipeline sees.

#ifndef SLABTRACE_PROTO_EVENT_H_
#define SLABTRACE_PROTO_EVENT_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace slabtrace {

// What an event did to the heap. A moving realloc is two events with
// consecutive sequence numbers: kAlloc of the new block, then kFree of the
// old one, both with api kRealloc (or kRallocx).
enum class EventKind : uint8_t {
  kAlloc = 0,   // ptr became live with `size` requested bytes.
  kFree = 1,    // ptr stopped being live.
  kResize = 2,  // ptr stayed where it was; its requested size is now `size`
                // and its size class `size_class` (realloc/rallocx/xallocx
                // in place).
};
inline constexpr int kNumEventKinds = 3;

// Which entry point of the malloc API the application called.
enum class AllocApi : uint8_t {
  kMalloc = 0,
  kCalloc,
  kRealloc,
  kReallocarray,
  kFree,
  kPosixMemalign,
  kAlignedAlloc,
  kMemalign,
  kValloc,
  kPvalloc,
  kMallocx,
  kRallocx,
  kXallocx,
  kDallocx,
  kSdallocx,
  kOperatorNew,          // all forms: plain, nothrow, aligned.
  kOperatorNewArray,     // all forms of new[].
  kOperatorDelete,       // all forms: plain, sized, aligned.
  kOperatorDeleteArray,  // all forms of delete[].
  kUnknown,
};
inline constexpr int kNumAllocApis = static_cast<int>(AllocApi::kUnknown) + 1;

struct Event {
  uint64_t seq = 0;      // global order over all threads, dense.
  uint64_t time_ns = 0;  // since the start of recording, at the header's
                         // time_resolution_ns.
  uint64_t ptr = 0;      // address the application sees.
  // Granule address, filled in by TraceReader from the header geometry:
  // the slab base for small classes, the page-aligned extent base for large.
  // Ignored by TraceWriter. (Next to ptr: the decoder copies the two as
  // one 16-byte value.)
  uint64_t slab = 0;
  // Requested bytes for kAlloc/kResize; for kFree the size the caller
  // passed (sdallocx, sized delete) or 0 when it passed none.
  uint64_t size = 0;
  uint32_t thread = 0;      // recorder-assigned thread number, from 0.
  uint16_t size_class = 0;  // index into TraceHeader.size_classes (usable
                            // size class of the block, after alignment).
  EventKind kind = EventKind::kAlloc;
  AllocApi api = AllocApi::kMalloc;

  friend bool operator==(const Event& a, const Event& b) {
    return a.seq == b.seq && a.time_ns == b.time_ns && a.ptr == b.ptr &&
           a.size == b.size && a.slab == b.slab && a.thread == b.thread &&
           a.size_class == b.size_class && a.kind == b.kind && a.api == b.api;
  }
  friend bool operator!=(const Event& a, const Event& b) { return !(a == b); }
};

// Stable lower-case names, used in trailers, CSV and JSON ("alloc",
// "malloc", "operator_new", ...). Never change an existing name.
absl::string_view EventKindName(EventKind kind);
absl::string_view AllocApiName(AllocApi api);

}  // namespace slabtrace

#endif  // SLABTRACE_PROTO_EVENT_H_
