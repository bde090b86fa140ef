// Test and benchmark support: a seeded, streaming generator of plausible
// object traffic (constant memory beyond its live objects). Phases of
// growth and shrinkage alternate, with a marker between phases; size
// classes are skewed towards small ones as in Redis, with a few large
// objects, some of which resize in place across large classes. The
// recorded placement is first-fit (lowest-address slab with room, lowest
// free region) at fake addresses.

#ifndef SLABTRACE_SIM_TESTING_RANDOM_OBJECT_STREAM_H_
#define SLABTRACE_SIM_TESTING_RANDOM_OBJECT_STREAM_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "absl/container/btree_set.h"
#include "absl/status/statusor.h"
#include "proto/slab_geometry.h"
#include "proto/trace.pb.h"
#include "replay/object_stream.h"
#include "sim/policy_registry.h"

namespace slabtrace {

struct RandomStreamOptions {
  uint64_t seed = 1;
  uint64_t events = 100000;       // alloc + free + resize events.
  uint64_t phase_events = 20000;  // a marker every phase.
  uint64_t max_live = 20000;      // growth phases stop here.
  uint32_t threads = 4;
  double large_share = 0.02;
};

class RandomObjectStream : public ObjectStream {
 public:
  static absl::StatusOr<std::unique_ptr<RandomObjectStream>> Create(
      const TraceHeader& header, const RandomStreamOptions& options);

  const TraceHeader& header() const override { return header_; }
  const SlabGeometry& geometry() const override { return geometry_; }
  absl::StatusOr<bool> Next(ObjectEvent* event) override;
  uint64_t unknown_frees() const override { return 0; }

 private:
  struct LiveObject {
    uint64_t id;
    uint32_t size_class;
    uint32_t thread;
    uint64_t slab;
    uint32_t region;
  };
  struct ClassSlabs {
    std::vector<std::vector<uint64_t>> used;  // slot -> used-region bits.
    std::vector<uint32_t> fill;
    absl::btree_set<uint32_t> with_room;
  };

  RandomObjectStream(const TraceHeader& header, SlabGeometry geometry,
                     const RandomStreamOptions& options);
  uint64_t Random();
  uint32_t PickClass();
  void Place(uint32_t size_class, uint64_t* slab, uint32_t* region);
  void Unplace(const LiveObject& object);
  void EmitAlloc(ObjectEvent* event);
  void EmitFree(ObjectEvent* event);
  bool EmitResize(ObjectEvent* event);

  TraceHeader header_;
  SlabGeometry geometry_;
  RandomStreamOptions options_;
  uint64_t state_;
  uint64_t seq_ = 0;
  uint64_t emitted_ = 0;
  bool growing_ = true;
  std::deque<Marker> markers_;
  std::vector<LiveObject> live_;
  std::vector<ClassSlabs> classes_;
  std::vector<uint32_t> small_classes_;  // sampled with Redis-like skew.
  std::vector<uint32_t> large_classes_;
};

// A factory opening a fresh RandomObjectStream with the same options.
StreamFactory RandomStreamFactory(TraceHeader header,
                                  RandomStreamOptions options);

// Materialises a stream into memory (for tests and benchmarks that want
// the generator's cost out of the measurement).
struct StreamContents;
absl::StatusOr<StreamContents> Materialize(ObjectStream& stream);

}  // namespace slabtrace

#endif  // SLABTRACE_SIM_TESTING_RANDOM_OBJECT_STREAM_H_
