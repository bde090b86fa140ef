// The columnar coding of one chunk of events (before zstd), shared by the
// writer and the reader. See proto/trace_format.h for the column order and
// proto/README.md for the coding of each column.
//
// Pointers are coded as deltas against the previous pointer of the same
// size class in the chunk: allocation bursts walk a slab region by region
// and a short-lived object's free follows its allocation closely, so most
// deltas are small. Requested sizes of allocations are coded as the slack
// below their class size, which fits one byte far more often than the size.

#ifndef SLABTRACE_PROTO_INTERNAL_EVENT_COLUMNS_H_
#define SLABTRACE_PROTO_INTERNAL_EVENT_COLUMNS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "proto/event.h"
#include "proto/internal/frame.h"
#include "proto/slab_geometry.h"
#include "proto/trace_format.h"

namespace slabtrace {
namespace internal {

// Encodes chunks; reuses its buffers from one chunk to the next.
class ChunkEncoder {
 public:
  // `class_sizes[c]` is the region size of size class c (TraceHeader order);
  // requested sizes are coded relative to it.
  explicit ChunkEncoder(std::vector<uint64_t> class_sizes);

  // Codes `events` (contiguous sequence numbers) with times divided by
  // `time_resolution_ns`. The result stays valid until the next Encode().
  void Encode(absl::Span<const Event> events, uint64_t time_resolution_ns);
  // The same when the caller already knows the OR of all the events'
  // pointers (the writer accumulates it as events arrive, which saves a
  // pass over the chunk).
  void Encode(absl::Span<const Event> events, uint64_t time_resolution_ns,
              uint64_t pointer_bits);
  const uint8_t* data() const { return buffer_.data(); }
  size_t size() const { return size_; }
  uint32_t flags() const { return flags_; }

 private:
  std::vector<uint64_t> class_sizes_;
  ByteBuffer buffer_;
  ByteBuffer scratch_;  // columns 2-5 while their lengths are unknown.
  size_t size_ = 0;
  uint32_t flags_ = 0;
  std::vector<uint64_t> last_ptr_;  // per size class.
  std::vector<uint16_t> touched_;   // classes to reset next chunk.
};

// Decodes chunks; reuses its per-class state from one chunk to the next.
// A chunk can be decoded whole (Decode) or a batch of events at a time
// (Start, then DecodeNext until remaining() is 0), which lets the reader hand
// out events while they are still in cache.
class ChunkDecoder {
 public:
  // Events are decoded in blocks of this many, the kind column of a block
  // first, then its other columns. Batches that are multiples of it report
  // the same first error as decoding the chunk whole.
  static constexpr uint32_t kBlockEvents = 512;

  explicit ChunkDecoder(const SlabGeometry* geometry,
                        uint64_t time_resolution_ns);

  // Decodes `count` events from the uncompressed column bytes into
  // out[0, count), numbering them from first_seq and filling in `slab`.
  // Adds the events of each kind to kind_counts[kind]. On malformed input
  // returns InvalidArgument with a one-phrase reason ("malformed column:
  // ...").
  absl::Status Decode(const uint8_t* data, size_t size, uint32_t count,
                      uint64_t first_seq, uint32_t flags, Event* out,
                      uint64_t kind_counts[kNumEventKinds]);

  // Checks the column framing of a chunk of `count` events; `data` must stay
  // valid until the chunk is decoded. Errors as Decode's.
  absl::Status Start(const uint8_t* data, size_t size, uint32_t count,
                     uint64_t first_seq, uint32_t flags);
  // Decodes the next min(n, remaining()) events of the started chunk into
  // out[0, ...). The batch that reaches the chunk's end also checks that no
  // column has bytes left over. After an error remaining() is 0.
  absl::Status DecodeNext(uint32_t n, Event* out,
                          uint64_t kind_counts[kNumEventKinds]);
  uint32_t remaining() const { return count_ - decoded_; }

 private:
  struct Cursors {
    const uint8_t* begin[format::kNumColumns];
    const uint8_t* at[format::kNumColumns];
    const uint8_t* end[format::kNumColumns];
    uint64_t time = 0;
    uint32_t thread = 0;
  };
  absl::Status DecodeBlock(Cursors& c, uint32_t begin, uint32_t n,
                           uint64_t first_seq, int ptr_shift, Event* out,
                           uint64_t kind_counts[kNumEventKinds]);
  absl::Status DecodeKinds(const uint8_t* kind_api, uint32_t begin, uint32_t n,
                           uint64_t first_seq, Event* out,
                           uint64_t kind_counts[kNumEventKinds]);
  absl::Status DecodeThreads(Cursors& c, const uint8_t* kind_api,
                             uint32_t begin, uint32_t first, uint32_t n,
                             Event* out);
  // Decodes events [0, n) of a block event by event, all columns at once,
  // for as long as no column can run out; returns how many it decoded
  // (fewer at a column's end or at the first malformed value, which the
  // caller then decodes column by column with checks).
  template <typename StoreTime, typename StoreClass, typename StoreSize,
            typename StorePtr>
  uint32_t DecodeFused(Cursors& c, const uint8_t* kind_api, uint32_t n,
                       Event* out, StoreTime& store_time,
                       StoreClass& store_class, StoreSize& store_size,
                       StorePtr& store_ptr);

  const SlabGeometry* geometry_;
  uint64_t time_resolution_ns_;
  std::vector<uint64_t> class_sizes_;  // the geometry's, without bounds checks.
  std::vector<uint64_t> last_ptr_;
  // The started chunk.
  Cursors cursors_;
  uint64_t first_seq_ = 0;
  int ptr_shift_ = 0;
  uint32_t count_ = 0;
  uint32_t decoded_ = 0;
};

}  // namespace internal
}  // namespace slabtrace

#endif  // SLABTRACE_PROTO_INTERNAL_EVENT_COLUMNS_H_
