// Test support: ObjectStream over events held in memory, and StreamBuilder,
// which writes such streams by hand (allocate, free, marker) and fills in a
// plausible recorded placement: per size class, lowest free region of the
// lowest-address slab with room (first-fit), at fake addresses. Tests that
// need a specific recorded placement set it themselves.

#ifndef SLABTRACE_SIM_TESTING_VECTOR_OBJECT_STREAM_H_
#define SLABTRACE_SIM_TESTING_VECTOR_OBJECT_STREAM_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "proto/slab_geometry.h"
#include "proto/trace.pb.h"
#include "replay/object_stream.h"
#include "sim/policy_registry.h"

namespace slabtrace {

// What a stream is made of: events plus the markers they point at.
struct StreamContents {
  TraceHeader header;
  std::vector<ObjectEvent> events;  // marker events have marker == nullptr;
  std::deque<Marker> markers;       // the i-th marker event uses markers[i].
};

class VectorObjectStream : public ObjectStream {
 public:
  // `contents` must outlive the stream.
  VectorObjectStream(const StreamContents& contents, SlabGeometry geometry);

  static absl::StatusOr<std::unique_ptr<VectorObjectStream>> Open(
      const StreamContents& contents);

  const TraceHeader& header() const override { return contents_.header; }
  const SlabGeometry& geometry() const override { return geometry_; }
  absl::StatusOr<bool> Next(ObjectEvent* event) override;
  uint64_t unknown_frees() const override { return 0; }

 private:
  const StreamContents& contents_;
  SlabGeometry geometry_;
  size_t next_ = 0;
  size_t markers_seen_ = 0;
};

// A StreamFactory over `contents` (which must outlive it).
StreamFactory VectorStreamFactory(const StreamContents& contents);

class StreamBuilder {
 public:
  explicit StreamBuilder(TraceHeader header);

  // Allocates one object of `size_class` (requested size = class size);
  // returns its id.
  uint64_t Alloc(uint32_t size_class, uint32_t thread = 0);
  // Allocates with an explicit recorded placement.
  uint64_t AllocAt(uint32_t size_class, uint64_t slab, uint32_t region,
                   uint32_t thread = 0);
  void Free(uint64_t object_id, uint32_t thread = 0);
  // In-place resize of a live object to another class (recorded placement
  // follows the builder's first-fit).
  void Resize(uint64_t object_id, uint32_t new_class);
  void Mark(const std::string& label);
  // Advances trace time by `ns` for the following events.
  void Sleep(uint64_t ns) { time_ns_ += ns; }

  // Slabs of the class per fake slab, for computing expected answers.
  uint32_t nregs(uint32_t size_class) const;
  uint64_t slab_size(uint32_t size_class) const;

  StreamContents Finish() { return std::move(contents_); }

 private:
  struct Live {
    uint32_t size_class;
    uint64_t slab;
    uint32_t region;
  };
  struct FakeSlab {
    std::vector<bool> used;
    uint32_t fill = 0;
  };
  void PlaceFirstFit(uint32_t size_class, uint64_t* slab, uint32_t* region);
  void Unplace(const Live& live);
  ObjectEvent NextEvent(ObjectEvent::Kind kind);

  StreamContents contents_;
  uint64_t seq_ = 0;
  uint64_t time_ns_ = 0;
  absl::flat_hash_map<uint64_t, Live> live_;
  // [class] -> slot -> fake slab; address = base + slot * granule.
  std::vector<std::vector<FakeSlab>> fake_;
};

}  // namespace slabtrace

#endif  // SLABTRACE_SIM_TESTING_VECTOR_OBJECT_STREAM_H_
