// ObjectStream turns a trace into the logical sequence of object lifetimes
// that the simulator (sim/) consumes: allocations and frees with object
// identity, size, size class, thread, time, the recorded placement, and the
// markers between them. sim/ depends on this and never on the file format.
//
// Object identity: an object is one allocation lifetime. Its id is the
// sequence number of the event that allocated it (unique and increasing).
// A moving realloc ends one object and starts another; an in-place resize
// keeps the object and reports kResize. Frees of pointers that were never
// allocated in the trace (allocated before recording began) are counted and
// dropped from the stream, so every kFree names a live object.

#ifndef SLABTRACE_REPLAY_OBJECT_STREAM_H_
#define SLABTRACE_REPLAY_OBJECT_STREAM_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "proto/slab_geometry.h"
#include "proto/trace.pb.h"

namespace slabtrace {

struct ObjectEvent {
  enum class Kind : uint8_t { kAlloc, kFree, kResize, kMarker };
  Kind kind = Kind::kAlloc;
  uint64_t object_id = 0;  // seq of the allocating event.
  uint64_t seq = 0;        // seq of this event (marker: the marker's seq).
  uint64_t time_ns = 0;
  uint64_t size = 0;        // requested bytes (kAlloc, kResize: the new size).
  uint32_t size_class = 0;  // kResize: the new class.
  uint32_t old_size_class = 0;  // kResize only.
  uint32_t thread = 0;
  uint64_t recorded_slab = 0;      // granule jemalloc placed it in.
  uint32_t recorded_region = 0;    // region index within that slab.
  const Marker* marker = nullptr;  // kMarker: valid until the next Next().
};

class ObjectStream {
 public:
  virtual ~ObjectStream() = default;
  virtual const TraceHeader& header() const = 0;
  virtual const SlabGeometry& geometry() const = 0;
  // Fills *event with the next item; false at the end of the trace.
  virtual absl::StatusOr<bool> Next(ObjectEvent* event) = 0;
  // Frees of pointers never allocated in the trace, skipped so far.
  virtual uint64_t unknown_frees() const = 0;
  // In-place resizes of pointers never allocated in the trace, skipped.
  virtual uint64_t unknown_resizes() const { return 0; }
  // Allocations and resizes whose size class is outside the header's
  // table: skipped, so every event's class indexes geometry() safely.
  virtual uint64_t invalid_events() const { return 0; }
};

// Streams `path` (constant memory beyond the live-object map: 16 bytes of
// slot per live object). An allocation at an address that is still live
// first ends the old object with a kFree, so the stream stays consistent.
// Errors are the reader's: one line with file, offset and reason.
absl::StatusOr<std::unique_ptr<ObjectStream>> OpenObjectStream(
    const std::string& path);

}  // namespace slabtrace

#endif  // SLABTRACE_REPLAY_OBJECT_STREAM_H_
