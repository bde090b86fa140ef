// The columnar coding of one chunk of events (before zstd), shared by the
// writer and the reader. See proto/trace_format.h for the column order and
// proto/README.md for the coding of each column.
//
// Two codings (proto/README.md, "Chunk payload"):
//
// The classic one (six columns): pointers are coded as deltas against the
// previous pointer of the same size class in the chunk: allocation bursts
// walk a slab region by region and a short-lived object's free follows its
// allocation closely, so most deltas are small. Requested sizes of
// allocations are coded as the slack below their class size, which fits one
// byte far more often than the size.
//
// The reference coding (format::kChunkRefCoding, nine columns), which needs
// the header's slab geometry: a free of one of the chunk's last 32
// allocations names it by its distance (temporaries die young and LIFO),
// and an allocation of the pointer of one of the chunk's last 64 frees
// names that free (allocators hand out the last freed region first). Other
// pointers are deltas of the slab-region index (slab page << log2(nregs) |
// region; nregs = page / gcd(size, page) is a power of two), so regions
// next to each other differ by one whatever the region size, and the
// decoder gets the slab without GranuleOf. Allocation and free values go to
// separate columns, each of one kind of value. The writer's chunks also pack
// the kind and time columns (format::kChunkPackedKinds): a 4-bit code per
// event from the chunk's table of its 15 most frequent (kind byte, timed)
// symbols, and time deltas only where they are not 0, which made zstd's
// part of decoding a quarter smaller. Measured choices in proto/README.md.

#ifndef SLABTRACE_PROTO_INTERNAL_EVENT_COLUMNS_H_
#define SLABTRACE_PROTO_INTERNAL_EVENT_COLUMNS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/optimization.h"
#include "absl/status/status.h"
#include "absl/types/span.h"
#include "proto/event.h"
#include "proto/internal/frame.h"
#include "proto/slab_geometry.h"
#include "proto/trace_format.h"

namespace slabtrace {
namespace internal {

// The short lists of the reference coding: the last kLength entries pushed,
// addressed by distance from the newest (0). It has twice as many slots, so
// that the slot of the next push, outside the list, can be written before
// the push is decided (the decoder writes every event's entry there).
template <typename Entry, uint32_t kLength>
struct RecentRing {
  static_assert((kLength & (kLength - 1)) == 0, "a power of two");
  static constexpr uint32_t kMask = 2 * kLength - 1;
  static constexpr uint32_t capacity = kLength;
  uint32_t listed() const { return pushes < kLength ? pushes : kLength; }
  // Requires distance < listed().
  const Entry& At(uint32_t distance) const {
    return slots[(pushes - 1 - distance) & kMask];
  }
  void Push(const Entry& entry) { slots[pushes++ & kMask] = entry; }

  Entry slots[2 * kLength];
  uint32_t pushes = 0;
};

// Encodes chunks; reuses its buffers from one chunk to the next.
class ChunkEncoder {
 public:
  // `class_sizes[c]` is the region size of size class c (TraceHeader order);
  // requested sizes are coded relative to it. Classic coding only.
  explicit ChunkEncoder(std::vector<uint64_t> class_sizes);
  // Uses the reference coding for every chunk whose small-class pointers
  // all start a region of their class, the classic coding for the others.
  // `geometry` is copied. With `pack_kinds` (what the writer uses) the
  // reference coding packs its kind and time columns
  // (format::kChunkPackedKinds); without, it writes them as traces written
  // before that flag have them.
  explicit ChunkEncoder(const SlabGeometry& geometry, bool pack_kinds = true);

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

  // The classic coding whatever the chunk's pointers (for a chunk known
  // not to fit the reference coding).
  void EncodeClassic(absl::Span<const Event> events,
                     uint64_t time_resolution_ns, uint64_t pointer_bits);

  // Streaming reference coding, so that a writer need not hold a chunk's
  // Events: StartRefs(), AddRefs() as events arrive, then FinishRefs(),
  // whose result is read as Encode()'s. Only for an encoder made with a
  // geometry (ref_coding()).
  bool ref_coding() const { return ref_coding_; }
  // Opens a chunk of at most `max_events` events, discarding any open one.
  void StartRefs(uint64_t time_resolution_ns, size_t max_events);
  // Codes the longest prefix of `events` (contiguous sequence numbers,
  // following the chunk's earlier ones) that the reference coding can
  // express, up to the chunk's `max_events`, and returns its length. It
  // stops before a small-class pointer that starts no region of its class;
  // such an event needs a chunk in the classic coding.
  size_t AddRefs(absl::Span<const Event> events);
  size_t refs_added() const { return stream_.added; }
  void FinishRefs();

 private:
  struct Recent {
    uint64_t ptr;
    uint32_t size_class;
  };
  // Where each column of the open reference-coded chunk has got to. The
  // columns are written to scratch_ and copied behind their lengths into
  // buffer_ by FinishRefs().
  struct RefStream {
    uint64_t time_resolution_ns = 1;
    size_t max_events = 0;
    size_t added = 0;
    uint32_t previous_thread = 0;
    uint64_t previous_time = 0;
    uint8_t* start[format::kNumPackedColumns] = {};
    uint8_t* at[format::kNumPackedColumns] = {};
    uint8_t* timed = nullptr;  // with packed kinds: the next event's.
  };
  // False, with nothing to use, when a small-class pointer does not start a
  // region of its class.
  bool EncodeRefs(absl::Span<const Event> events, uint64_t time_resolution_ns);
  // Forgets the previous pointers of the classes the last chunk used.
  void ResetLastPointers();

  std::vector<uint64_t> class_sizes_;
  bool ref_coding_ = false;
  bool pack_kinds_ = false;
  // With packed kinds, whether each event of the open chunk has a time
  // delta (its kind bytes are in the kind column's room).
  ByteBuffer timed_;
  // Reference coding: the geometry, and per class log2(regions per slab)
  // (log2(page) for large classes, whose index is the pointer itself).
  std::optional<SlabGeometry> geometry_;
  std::vector<uint8_t> index_shift_;
  int page_shift_ = 0;
  RecentRing<Recent, format::kRecentAllocs> recent_allocs_;
  RecentRing<Recent, format::kRecentFrees> recent_frees_;
  // Where each list last pushed an entry of each hash bucket (push index +
  // 1; 0 for none), so that finding an entry is one probe. A collision
  // only costs a reference not taken.
  static constexpr int kTableBits = 10;
  static uint32_t Bucket(uint64_t ptr, uint32_t size_class) {
    return static_cast<uint32_t>(((ptr ^ size_class) * 0x9e3779b97f4a7c15ull) >>
                                 (64 - kTableBits));
  }
  uint32_t alloc_table_[1 << kTableBits];
  uint32_t free_table_[1 << kTableBits];
  RefStream stream_;
  ByteBuffer buffer_;
  ByteBuffer scratch_;  // columns while their lengths are unknown.
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

  // With `allow_isa_extensions`, pointer varints are decoded with BMI2's
  // pext where the CPU has a fast one (uses_pext()), and packed kinds 16
  // events at a time with SSSE3 where it has that (uses_ssse3()); the
  // events are the same either way (tests decode with both).
  explicit ChunkDecoder(const SlabGeometry* geometry,
                        uint64_t time_resolution_ns,
                        bool allow_isa_extensions = true);
  bool uses_pext() const { return use_pext_; }
  bool uses_ssse3() const { return use_ssse3_; }

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
  // The largest thread of the events the last DecodeNext() decoded (0 for
  // none), found at the thread changes instead of in a pass of its own.
  uint32_t max_thread() const { return max_thread_; }

 private:
  static constexpr int kMaxColumns = format::kNumPackedColumns;
  struct Cursors {
    const uint8_t* begin[kMaxColumns];
    const uint8_t* at[kMaxColumns];
    const uint8_t* end[kMaxColumns];
    uint64_t time_ns = 0;  // the previous event's (mod 2^64).
    uint32_t thread = 0;
  };
  struct Recent {
    uint64_t ptr;
    uint64_t slab;
    uint32_t size_class;
  };
  // How the reference coding's slab-region index of a class maps back to a
  // pointer: slab = (index >> shift) << page shift, ptr = slab + (index &
  // (2^shift - 1)) * unit.
  struct IndexCoding {
    uint64_t unit;       // the region size; 1 for large classes.
    uint64_t max_index;  // larger ones would lose bits of the slab.
    uint32_t shift;
  };
  // The kind, time and thread columns of a block of the reference coding,
  // with kind bytes or (packed_kinds_) packed.
  absl::Status DecodeLeading(Cursors& c, uint32_t begin, uint32_t n,
                             uint64_t first_seq, Event* out,
                             uint64_t kind_counts[kNumEventKinds]);
  absl::Status DecodePackedLeading(Cursors& c, uint32_t begin, uint32_t n,
                                   uint64_t first_seq, Event* out,
                                   uint64_t kind_counts[kNumEventKinds]);
  // Checks the started chunk's kind table into kind_codes_ and
  // code_lanes_.
  absl::Status ReadKindTable(Cursors& c, uint32_t count);
  // The packed pass's time and thread state, for DecodePackedGroups.
  struct PackedRun {
    const uint8_t* time_p;
    const uint8_t* time_end;
    uint64_t time_ns;
    uint32_t thread;
    uint32_t frees = 0;  // counted by the groups decoded.
    uint32_t resizes = 0;
  };
#if defined(__x86_64__)
  // Decodes events [i, n) of a block (begin + i even) 16 at a time for as
  // long as a group of 16 has no escaped or missing code and no thread
  // change, and its time deltas all are one byte long; returns where it
  // stopped (a multiple of 16 past i). The rest is the scalar pass's.
  __attribute__((target("ssse3,popcnt"))) uint32_t DecodePackedGroups(
      PackedRun& run, const uint8_t* codes, uint32_t begin, uint32_t i,
      uint32_t n, uint64_t seq, Event* out);
#endif
  absl::Status DecodeRefBlock(Cursors& c, uint32_t begin, uint32_t n,
                              uint64_t first_seq, Event* out,
                              uint64_t kind_counts[kNumEventKinds]);
  // Decodes the class, size and pointer of events [0, n) of a block, for as
  // long as no column can run out and every value is valid; returns how
  // many it decoded.
  uint32_t DecodeRefsFused(Cursors& c, uint32_t n, Event* out);
#if defined(__x86_64__)
  // The same compiled for BMI1/2 (andn, tzcnt, shlx, ..., and pext for the
  // pointer varints): 6 % of BM_Decode/1000 where pext is fast.
  __attribute__((target("bmi,bmi2"))) uint32_t DecodeRefsFusedBmi2(Cursors& c,
                                                                   uint32_t n,
                                                                   Event* out);
#endif
  template <int kPointerPath>
  __attribute__((always_inline)) inline uint32_t DecodeRefsFusedWith(
      Cursors& c, uint32_t n, Event* out);
  // The entry of an explicit pointer: size class, zigzag delta of its
  // slab-region index. False, with nothing changed, for a class or index
  // out of range.
  __attribute__((always_inline)) inline bool ExplicitPointer(
      uint64_t size_class, uint64_t delta, Recent* recent);
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

  bool use_pext_;
  bool use_ssse3_;
  const SlabGeometry* geometry_;
  uint64_t time_resolution_ns_;
  std::vector<uint64_t> class_sizes_;  // the geometry's, without bounds checks.
  std::vector<uint64_t> last_ptr_;
  std::vector<IndexCoding> index_coding_;
  int page_shift_ = 0;
  RecentRing<Recent, format::kRecentAllocs> recent_allocs_;
  RecentRing<Recent, format::kRecentFrees> recent_frees_;
  // The started chunk.
  Cursors cursors_;
  int num_columns_ = format::kNumColumns;
  bool ref_coding_ = false;
  bool packed_kinds_ = false;
  // With packed kinds: what each 4-bit code stands for (event_columns.cc,
  // CodeEntry), and the time step of each one-byte time delta.
  uint64_t kind_codes_[16] = {};
  // The same per code as byte lanes for pshufb: 0x80 where a code cannot
  // take the group path (escaped, missing, or a thread change) or is
  // timed, 0xff for a free or a resize, and the Event::kind and ::api
  // bytes.
  struct CodeLanes {
    alignas(16) uint8_t slow[16];
    alignas(16) uint8_t timed[16];
    alignas(16) uint8_t free[16];
    alignas(16) uint8_t resize[16];
    alignas(16) uint8_t kind[16];
    alignas(16) uint8_t api[16];
  };
  CodeLanes code_lanes_ = {};
  uint64_t one_byte_delta_ns_[128] = {};
  uint64_t first_seq_ = 0;
  int ptr_shift_ = 0;
  uint32_t count_ = 0;
  uint32_t decoded_ = 0;
  uint32_t max_thread_ = 0;
};

}  // namespace internal
}  // namespace slabtrace

#endif  // SLABTRACE_PROTO_INTERNAL_EVENT_COLUMNS_H_
