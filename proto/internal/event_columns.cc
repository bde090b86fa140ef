#include "proto/internal/event_columns.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <tuple>
#include <type_traits>
#include <utility>

#include "absl/base/optimization.h"
#include "absl/strings/str_format.h"
#include "proto/internal/frame.h"
#include "proto/internal/varint.h"
#include "proto/trace_format.h"

namespace slabtrace {
namespace internal {
namespace {

constexpr size_t kNumSizeClassSlots = std::numeric_limits<uint16_t>::max() + 1;

absl::Status Malformed(const std::string& what) {
  return absl::InvalidArgumentError("malformed column: " + what);
}

// Whether pext is there and fast: AMD's CPUs before Zen 3 (family 0x19)
// run it in microcode, hundreds of cycles.
bool HasFastPext() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("bmi2")) return false;
  if (!__builtin_cpu_is("amd")) return true;
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
  const unsigned family = ((eax >> 8) & 0xf) + ((eax >> 20) & 0xff);
  return family >= 0x19;
#else
  return false;
#endif
}

bool HasSsse3() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("ssse3") && __builtin_cpu_supports("popcnt");
#else
  return false;
#endif
}

// x / d without a hardware divide (40+ cycles per event otherwise): a
// multiply by the rounded-up reciprocal gives the quotient or one more,
// and one multiply-compare corrects it.
class Divider {
 public:
  explicit Divider(uint64_t d)
      : d_(d), reciprocal_(d <= 1 ? 0 : ~uint64_t{0} / d + 1) {}
  uint64_t operator()(uint64_t x) const {
    if (reciprocal_ == 0) return x;
    uint64_t q = static_cast<uint64_t>(
        (static_cast<unsigned __int128>(x) * reciprocal_) >> 64);
    if (static_cast<unsigned __int128>(q) * d_ > x) --q;
    return q;
  }

 private:
  uint64_t d_;
  uint64_t reciprocal_;
};

// Writes v as a varint at p like PutVarint, without a branch on the length
// for values below 2^56: pointer deltas have mixed lengths, and the
// length loop's mispredicted exits were a quarter of the encoding time.
// p must have kMaxVarintBytes writable bytes; up to 8 bytes past the
// returned end may be overwritten.
__attribute__((always_inline)) inline uint8_t* PutVarintBranchless(uint8_t* p,
                                                                   uint64_t v) {
  if (ABSL_PREDICT_FALSE(v >= (uint64_t{1} << 56))) return PutVarint(p, v);
  // Each 7-bit group of v moves to its own byte.
  uint64_t x = v & 0x7f;
  x |= (v << 1) & 0x7f00;
  x |= (v << 2) & 0x7f0000;
  x |= (v << 3) & 0x7f000000;
  x |= (v << 4) & 0x7f00000000;
  x |= (v << 5) & 0x7f0000000000;
  x |= (v << 6) & 0x7f000000000000;
  x |= (v << 7) & 0x7f00000000000000;
  // 1..8 bytes, up to the highest nonzero one; every byte but the last
  // carries the continuation bit.
  const int bytes = (71 - __builtin_clzll(x | 1)) >> 3;
  x |= 0x0080808080808080ull >> (8 * (8 - bytes));
  __builtin_memcpy(p, &x, 8);  // little-endian hosts only (x86-64, arm64).
  return p + bytes;
}

// How to decode a column's varints where the bytes left guarantee they fit.
enum VarintPath {
  kOneByteFirst,  // a branch for the one-byte case: columns mostly 1 byte.
  kBranchless,    // no length branch: columns of mixed lengths, where that
                  // branch would mispredict often.
  kPext,          // as kBranchless, the 7-bit groups gathered by BMI2's
                  // pext: only where ChunkDecoder found a fast pext.
};

// Decodes a varint from *p, which must have kMaxVarintBytes readable bytes.
// Returns false when it runs past 64 bits.
template <VarintPath path>
__attribute__((always_inline)) inline bool GetVarintUnchecked(const uint8_t** p,
                                                              uint64_t* v) {
  const uint8_t* q = *p;
  if (path == kOneByteFirst && *q < 0x80) {
    *v = *q;
    *p = q + 1;
    return true;
  }
  uint64_t x;
  __builtin_memcpy(&x, q, 8);  // little-endian hosts only (x86-64, arm64).
  const uint64_t stops = ~x & 0x8080808080808080ull;
  if (ABSL_PREDICT_FALSE(stops == 0)) {  // 9 or 10 bytes.
    return GetVarint(p, q + kMaxVarintBytes, v);
  }
  // The bytes up to and including the first without a continuation bit.
  const uint64_t groups = (stops ^ (stops - 1)) & 0x7f7f7f7f7f7f7f7full;
#if defined(__x86_64__)
  if (path == kPext) {
    // Inline assembly, not the intrinsic: this function is also compiled
    // for CPUs without BMI2 (the kPext instances run only on ones with it).
    uint64_t gathered;
    asm("pextq %2, %1, %0" : "=r"(gathered) : "r"(x), "r"(groups));
    *v = gathered;
    *p = q + (__builtin_ctzll(stops) >> 3) + 1;
    return true;
  }
#endif
  x &= groups;
  x = ((x & 0x7f007f007f007f00ull) >> 1) | (x & 0x007f007f007f007full);
  x = ((x & 0x3fff00003fff0000ull) >> 2) | (x & 0x00003fff00003fffull);
  x = ((x & 0x0fffffff00000000ull) >> 4) | (x & 0x000000000fffffffull);
  *v = x;
  *p = q + (__builtin_ctzll(stops) >> 3) + 1;
  return true;
}

// Decodes the varints of events [first, n) from the column [at, end),
// calling store(i, value) for each; stops early when a varint is malformed or
// store returns false. Advances `at` and returns how many were stored. Only the
// varints that could reach `end` pay for a bounds check: with k *
// kMaxVarintBytes bytes left, the next k cannot.
template <VarintPath path, typename Store>
__attribute__((always_inline)) inline uint32_t DecodeVarints(const uint8_t*& at,
                                                             const uint8_t* end,
                                                             uint32_t first,
                                                             uint32_t n,
                                                             Store store) {
  const uint8_t* p = at;
  const uint32_t unchecked = static_cast<uint32_t>(std::min<size_t>(
      n, first + static_cast<size_t>(end - p) / kMaxVarintBytes));
  uint32_t i = first;
  uint64_t v;
  for (; i < unchecked; ++i) {
    if (!GetVarintUnchecked<path>(&p, &v) || !store(i, v)) {
      at = p;
      return i;
    }
  }
  for (; i < n; ++i) {
    if (!GetVarintFast(&p, end, &v) || !store(i, v)) break;
  }
  at = p;
  return i;
}

// A store(i, value) for DecodeVarints over a time column: adds the zigzag
// delta, in resolution units, to `time_ns` and gives event i that time.
auto TimeStore(uint64_t& time_ns, uint64_t resolution, Event* out) {
  return [&time_ns, resolution, out](uint32_t i, uint64_t v) {
    time_ns += static_cast<uint64_t>(UnZigZag(v)) * resolution;
    out[i].time_ns = time_ns;
    return true;
  };
}

// The kind+api, time and thread columns, which every coding starts with,
// written event by event: kind and time straight to their place in the
// chunk (the kind column's length is the event count), the thread column
// into scratch until its length is known. With `timed` (the packed kinds
// of format::kChunkPackedKinds) only nonzero time deltas are written, and
// whether there was one goes to `timed`, a byte per event.
class LeadingColumns {
 public:
  // previous_thread and previous_time continue a chunk begun earlier.
  LeadingColumns(uint8_t* kind, uint8_t* time, uint8_t* thread,
                 uint64_t time_resolution_ns, uint32_t previous_thread = 0,
                 uint64_t previous_time = 0, uint8_t* timed = nullptr)
      : kind_(kind),
        timed_(timed),
        time_(time),
        thread_(thread),
        divide_(time_resolution_ns),
        previous_thread_(previous_thread),
        previous_time_(previous_time) {}

  __attribute__((always_inline)) void Put(const Event& e) {
    const bool same_thread = e.thread == previous_thread_;
    const uint8_t kind_byte =
        static_cast<uint8_t>((same_thread ? format::kSameThreadBit : 0) |
                             static_cast<uint8_t>(e.kind) << format::kApiBits |
                             static_cast<uint8_t>(e.api));
    const uint64_t t = divide_(e.time_ns);
    const uint64_t delta = ZigZag(static_cast<int64_t>(t - previous_time_));
    previous_time_ = t;
    *kind_++ = kind_byte;
    if (timed_ == nullptr) {
      time_ = PutVarint(time_, delta);
    } else {
      // Timed events come at random: a one-byte delta is written whatever
      // it is and kept only when it is not 0 (a branch on that
      // mispredicted, 4.5 ms of BM_EncodeColumns' 34).
      *timed_++ = delta != 0;
      if (ABSL_PREDICT_TRUE(delta < 0x80)) {
        *time_ = static_cast<uint8_t>(delta);
        time_ += delta != 0;
      } else {
        time_ = PutVarint(time_, delta);
      }
    }
    if (!same_thread) thread_ = PutVarint(thread_, e.thread);
    previous_thread_ = e.thread;
  }
  uint8_t* kind_end() const { return kind_; }
  uint8_t* timed_end() const { return timed_; }
  uint8_t* time_end() const { return time_; }
  uint8_t* thread_end() const { return thread_; }
  uint32_t previous_thread() const { return previous_thread_; }
  uint64_t previous_time() const { return previous_time_; }

 private:
  uint8_t* kind_;
  uint8_t* timed_;
  uint8_t* time_;
  uint8_t* thread_;
  const Divider divide_;
  uint32_t previous_thread_ = 0;
  uint64_t previous_time_ = 0;
};

// Packs a chunk's kind bytes and timed bytes (LeadingColumns) as
// format::kChunkPackedKinds says, symbol = kind | timed << 8: the chunk's most
// frequent symbols (ties to the smaller one, so the table is deterministic) get
// table codes, the others kEscapeCode and a varint in the escape column. Writes
// the codes at `codes` and the table and escapes at `table` and `escapes`;
// returns the ends of those two.
std::pair<uint8_t*, uint8_t*> PackKinds(const uint8_t* kinds,
                                        const uint8_t* timed, size_t n,
                                        uint8_t* codes, uint8_t* table,
                                        uint8_t* escapes) {
  auto symbol = [&](size_t i) { return kinds[i] | timed[i] << 8; };
  constexpr int kSymbols = 512;
  // Four histograms, summed: a chunk has few symbols, and incrementing one
  // counter event after event waits for its previous increment each time.
  uint32_t partial[4][kSymbols] = {};
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    ++partial[0][symbol(i)];
    ++partial[1][symbol(i + 1)];
    ++partial[2][symbol(i + 2)];
    ++partial[3][symbol(i + 3)];
  }
  for (; i < n; ++i) ++partial[0][symbol(i)];
  uint32_t counts[kSymbols];
  for (int k = 0; k < kSymbols; ++k) {
    counts[k] = partial[0][k] + partial[1][k] + partial[2][k] + partial[3][k];
  }
  uint16_t order[kSymbols];
  for (int i = 0; i < kSymbols; ++i) order[i] = static_cast<uint16_t>(i);
  std::partial_sort(order, order + format::kEscapeCode, order + kSymbols,
                    [&](uint16_t a, uint16_t b) {
                      return counts[a] != counts[b] ? counts[a] > counts[b]
                                                    : a < b;
                    });
  uint8_t code_of[kSymbols];
  std::memset(code_of, format::kEscapeCode, sizeof(code_of));
  for (int i = 0; i < format::kEscapeCode && counts[order[i]] > 0; ++i) {
    code_of[order[i]] = static_cast<uint8_t>(i);
    *table++ = static_cast<uint8_t>(order[i]);
    *table++ = static_cast<uint8_t>(order[i] >> 8);
  }
  // `codes` may be `kinds`: byte i / 2 is written after kinds i and i + 1
  // are read.
  for (i = 0; i < n; i += 2) {
    const uint32_t first = symbol(i);
    const uint32_t second = i + 1 < n ? symbol(i + 1) : 0;
    const uint8_t low = code_of[first];
    const uint8_t high = i + 1 < n ? code_of[second] : 0;
    *codes++ = static_cast<uint8_t>(low | high << 4);
    if (low == format::kEscapeCode) escapes = PutVarint(escapes, first);
    if (high == format::kEscapeCode && i + 1 < n) {
      escapes = PutVarint(escapes, second);
    }
  }
  return {table, escapes};
}

// Appends each [start, end) column at p, behind its length; returns the
// end.
template <typename Columns>
uint8_t* PutColumns(uint8_t* p, const Columns& columns) {
  constexpr size_t kHead = format::kColumnLengthBytes;
  for (const auto& [start, end] : columns) {
    const size_t length = static_cast<size_t>(end - start);
    PutLe32(p, static_cast<uint32_t>(length));
    std::memcpy(p + kHead, start, length);
    p += kHead + length;
  }
  return p;
}

// Writes the length of the kind and time columns in front of them, then
// appends each [start, end) column from scratch behind the time column with
// its length; returns the end of the chunk.
uint8_t* FinishColumns(
    uint8_t* kind_start, size_t num_events, uint8_t* time_start,
    uint8_t* time_end,
    std::initializer_list<std::pair<const uint8_t*, const uint8_t*>> columns) {
  constexpr size_t kHead = format::kColumnLengthBytes;
  PutLe32(kind_start - kHead, static_cast<uint32_t>(num_events));
  PutLe32(time_start - kHead, static_cast<uint32_t>(time_end - time_start));
  return PutColumns(time_end, columns);
}

}  // namespace

ChunkEncoder::ChunkEncoder(std::vector<uint64_t> class_sizes)
    : class_sizes_(std::move(class_sizes)), last_ptr_(kNumSizeClassSlots, 0) {
  class_sizes_.resize(kNumSizeClassSlots, 0);
}

void ChunkEncoder::Encode(absl::Span<const Event> events,
                          uint64_t time_resolution_ns) {
  uint64_t pointer_bits = 0;
  for (const Event& e : events) pointer_bits |= e.ptr;
  Encode(events, time_resolution_ns, pointer_bits);
}

ChunkEncoder::ChunkEncoder(const SlabGeometry& geometry, bool pack_kinds)
    : ref_coding_(true),
      pack_kinds_(pack_kinds),
      geometry_(geometry),
      page_shift_(__builtin_ctzll(geometry.page_size())),
      last_ptr_(kNumSizeClassSlots, 0) {
  for (int c = 0; c < geometry.num_classes(); ++c) {
    class_sizes_.push_back(geometry.region_size(c));
    // nregs = page / gcd(size, page) is a power of two <= page.
    index_shift_.push_back(static_cast<uint8_t>(
        geometry.is_small(c) ? __builtin_ctz(geometry.nregs(c)) : page_shift_));
  }
  // Like class_sizes_: every u16 class indexes something.
  class_sizes_.resize(kNumSizeClassSlots, 0);
  index_shift_.resize(kNumSizeClassSlots, static_cast<uint8_t>(page_shift_));
}

void ChunkEncoder::Encode(absl::Span<const Event> events,
                          uint64_t time_resolution_ns, uint64_t pointer_bits) {
  if (ref_coding_ && EncodeRefs(events, time_resolution_ns)) return;
  EncodeClassic(events, time_resolution_ns, pointer_bits);
}

bool ChunkEncoder::EncodeRefs(absl::Span<const Event> events,
                              uint64_t time_resolution_ns) {
  StartRefs(time_resolution_ns, events.size());
  if (AddRefs(events) < events.size()) {
    ResetLastPointers();
    return false;
  }
  FinishRefs();
  return true;
}

void ChunkEncoder::ResetLastPointers() {
  for (uint16_t c : touched_) last_ptr_[c] = 0;
  touched_.clear();
}

void ChunkEncoder::StartRefs(uint64_t time_resolution_ns, size_t max_events) {
  ResetLastPointers();
  // Room per event in each column: a kind byte; a thread is a u32 varint
  // (5 bytes), a class value a u16 plus the list length (3 bytes); the
  // rest are u64 varints.
  // With packed kinds the kind column's room holds the codes, and an
  // escaped symbol (< 2^9) takes at most 2 bytes.
  static constexpr size_t kRoom[format::kNumPackedColumns] = {1,
                                                              kMaxVarintBytes,
                                                              5,
                                                              3,
                                                              kMaxVarintBytes,
                                                              kMaxVarintBytes,
                                                              3,
                                                              kMaxVarintBytes,
                                                              kMaxVarintBytes,
                                                              0,
                                                              2};
  constexpr size_t kTableRoom =
      format::kEscapeCode * format::kKindTableEntryBytes;
  size_t total = kTableRoom;
  for (size_t room : kRoom) total += room * max_events;
  if (scratch_.size() < total) scratch_.resize(total);
  if (pack_kinds_ && timed_.size() < max_events) timed_.resize(max_events);
  RefStream& s = stream_;
  s = RefStream();
  s.time_resolution_ns = time_resolution_ns;
  s.max_events = max_events;
  s.timed = pack_kinds_ ? timed_.data() : nullptr;
  uint8_t* p = scratch_.data();
  for (int c = 0; c < format::kNumPackedColumns; ++c) {
    s.start[c] = s.at[c] = p;
    p += kRoom[c] * max_events +
         (c == format::kKindTableColumn ? kTableRoom : 0);
  }
  recent_allocs_.pushes = 0;
  recent_frees_.pushes = 0;
  std::memset(alloc_table_, 0, sizeof(alloc_table_));
  std::memset(free_table_, 0, sizeof(free_table_));
}

size_t ChunkEncoder::AddRefs(absl::Span<const Event> all) {
  RefStream& s = stream_;
  const absl::Span<const Event> events =
      all.first(std::min(all.size(), s.max_events - s.added));
  LeadingColumns leading(s.at[format::kRefKindApiColumn],
                         s.at[format::kRefTimeColumn],
                         s.at[format::kRefThreadColumn], s.time_resolution_ns,
                         s.previous_thread, s.previous_time, s.timed);
  uint8_t* alloc_class_p = s.at[format::kAllocClassColumn];
  uint8_t* alloc_size_p = s.at[format::kAllocSizeColumn];
  uint8_t* alloc_ptr_p = s.at[format::kAllocPointerColumn];
  uint8_t* free_class_p = s.at[format::kFreeClassColumn];
  uint8_t* free_size_p = s.at[format::kFreeSizeColumn];
  uint8_t* free_ptr_p = s.at[format::kFreePointerColumn];

  const SlabGeometry& geometry = *geometry_;
  const uint64_t* const class_sizes = class_sizes_.data();
  const uint8_t* const index_shift = index_shift_.data();
  const int page_shift = page_shift_;
  uint64_t* const last_ptr = last_ptr_.data();
  // The slab-region index of e's pointer and its delta against the
  // previous index of the class; false, with nothing written, for a
  // pointer that starts no region.
  auto put_index = [&](const Event& e, uint8_t*& p)
      __attribute__((always_inline)) {
    const uint32_t c = e.size_class;
    uint64_t index = e.ptr;
    if (geometry.is_small(c)) {
      uint64_t slab;
      uint32_t region;
      if (!geometry.LocateRegion(e.ptr, c, &slab, &region)) return false;
      index = ((slab >> page_shift) << index_shift[c]) | region;
    }
    uint64_t& last = last_ptr[c];
    // An index of 0 would look untouched; it only costs a duplicate entry
    // in touched_.
    if (ABSL_PREDICT_FALSE(last == 0)) touched_.push_back(e.size_class);
    p = PutVarintBranchless(p, ZigZag(static_cast<int64_t>(index - last)));
    last = index;
    return true;
  };
  // The distance of e in `ring`, or -1.
  auto find = [](const auto& ring, const uint32_t* table, uint32_t bucket,
                 const Event& e) {
    const uint32_t at = table[bucket];
    if (at == 0) return -1;
    const uint32_t distance = ring.pushes - at;  // at is push index + 1.
    if (distance >= ring.capacity) return -1;
    const Recent& r = ring.At(distance);
    if (r.ptr != e.ptr || r.size_class != e.size_class) return -1;
    return static_cast<int>(distance);
  };
  auto push = [](auto& ring, uint32_t* table, uint32_t bucket,
                 const Recent& recent) {
    ring.Push(recent);
    table[bucket] = ring.pushes;
  };
  size_t i = 0;
  for (; i < events.size(); ++i) {
    const Event& e = events[i];
    const Recent recent{e.ptr, e.size_class};
    const uint32_t bucket = Bucket(e.ptr, e.size_class);
    // The pointer first: an event it cannot code leaves nothing behind.
    if (e.kind == EventKind::kFree) {
      const int d = find(recent_allocs_, alloc_table_, bucket, e);
      if (d >= 0) {
        free_class_p = PutVarint(free_class_p, static_cast<uint64_t>(d));
      } else {
        if (!put_index(e, free_ptr_p)) break;
        free_class_p = PutVarint(
            free_class_p, uint64_t{e.size_class} + format::kRecentAllocs);
      }
      free_size_p = PutVarint(free_size_p, e.size);
      push(recent_frees_, free_table_, bucket, recent);
    } else {
      const int d = e.kind == EventKind::kAlloc
                        ? find(recent_frees_, free_table_, bucket, e)
                        : -1;
      if (d >= 0) {
        alloc_class_p = PutVarint(alloc_class_p, static_cast<uint64_t>(d));
      } else {
        if (!put_index(e, alloc_ptr_p)) break;
        alloc_class_p = PutVarint(
            alloc_class_p, uint64_t{e.size_class} + format::kRecentFrees);
      }
      alloc_size_p = PutVarint(
          alloc_size_p,
          ZigZag(static_cast<int64_t>(class_sizes[e.size_class] - e.size)));
      if (e.kind == EventKind::kAlloc) {
        push(recent_allocs_, alloc_table_, bucket, recent);
      }
    }
    leading.Put(e);
  }
  s.added += i;
  s.previous_thread = leading.previous_thread();
  s.previous_time = leading.previous_time();
  s.at[format::kRefKindApiColumn] = leading.kind_end();
  s.timed = leading.timed_end();
  s.at[format::kRefTimeColumn] = leading.time_end();
  s.at[format::kRefThreadColumn] = leading.thread_end();
  s.at[format::kAllocClassColumn] = alloc_class_p;
  s.at[format::kAllocSizeColumn] = alloc_size_p;
  s.at[format::kAllocPointerColumn] = alloc_ptr_p;
  s.at[format::kFreeClassColumn] = free_class_p;
  s.at[format::kFreeSizeColumn] = free_size_p;
  s.at[format::kFreePointerColumn] = free_ptr_p;
  return i;
}

void ChunkEncoder::FinishRefs() {
  RefStream& s = stream_;
  int num_columns = format::kNumRefColumns;
  flags_ = format::kChunkRefCoding;
  if (pack_kinds_) {
    uint8_t* const codes = s.start[format::kKindCodeColumn];
    std::tie(s.at[format::kKindTableColumn], s.at[format::kKindEscapeColumn]) =
        PackKinds(codes, timed_.data(), s.added, codes,
                  s.start[format::kKindTableColumn],
                  s.start[format::kKindEscapeColumn]);
    s.at[format::kKindCodeColumn] = codes + (s.added + 1) / 2;
    num_columns = format::kNumPackedColumns;
    flags_ |= format::kChunkPackedKinds;
  }
  size_t total = 0;
  std::pair<const uint8_t*, const uint8_t*> columns[format::kNumPackedColumns];
  for (int c = 0; c < num_columns; ++c) {
    columns[c] = {s.start[c], s.at[c]};
    total += format::kColumnLengthBytes + (s.at[c] - s.start[c]);
  }
  if (buffer_.size() < total) buffer_.resize(total);
  size_ = static_cast<size_t>(
      PutColumns(buffer_.data(), absl::MakeConstSpan(columns, num_columns)) -
      buffer_.data());
  ResetLastPointers();
}

void ChunkEncoder::EncodeClassic(absl::Span<const Event> events,
                                 uint64_t time_resolution_ns,
                                 uint64_t pointer_bits) {
  ResetLastPointers();  // a reference coding given up may have left some.
  const size_t n = events.size();
  constexpr size_t kHead = format::kColumnLengthBytes;
  // The kind and time columns go straight to their place in buffer_ (the
  // kind column's length is n); the other four into scratch_, from where
  // they are appended once their lengths are known.
  const size_t capacity = format::kNumColumns * kHead + n +
                          (format::kNumColumns - 1) * n * kMaxVarintBytes;
  if (buffer_.size() < capacity) buffer_.resize(capacity);
  // Worst cases: a thread is a u32 varint (5 bytes), a size class a u16
  // (3 bytes).
  const size_t thread_room = n * 5;
  const size_t wide_room = n * kMaxVarintBytes;
  const size_t class_room = n * 3;
  if (scratch_.size() < thread_room + 2 * wide_room + class_room) {
    scratch_.resize(thread_room + 2 * wide_room + class_room);
  }
  const bool aligned = (pointer_bits & 7) == 0;
  flags_ = aligned ? format::kChunkPointersDiv8 : 0;
  const int ptr_shift = aligned ? 3 : 0;

  uint8_t* const kind_start = buffer_.data() + kHead;
  uint8_t* const time_start = kind_start + n + kHead;
  uint8_t* const thread_start = scratch_.data();
  uint8_t* const ptr_start = thread_start + thread_room;
  uint8_t* const size_start = ptr_start + wide_room;
  uint8_t* const class_start = size_start + wide_room;
  LeadingColumns leading(kind_start, time_start, thread_start,
                         time_resolution_ns);
  uint8_t* ptr_p = ptr_start;
  uint8_t* size_p = size_start;
  uint8_t* class_p = class_start;

  // One pass over the events, all six columns at once: the events are read
  // once (a 64K-event chunk is 3 MB, beyond L2) instead of once per column.
  const uint64_t* const class_sizes = class_sizes_.data();
  uint64_t* const last_ptr = last_ptr_.data();
  for (const Event& e : events) {
    leading.Put(e);
    uint64_t& last = last_ptr[e.size_class];
    // A pointer of 0 would look untouched; it only costs a duplicate entry
    // in touched_.
    if (ABSL_PREDICT_FALSE(last == 0)) touched_.push_back(e.size_class);
    const uint64_t scaled = e.ptr >> ptr_shift;
    ptr_p =
        PutVarintBranchless(ptr_p, ZigZag(static_cast<int64_t>(scaled - last)));
    last = scaled;
    size_p = PutVarint(
        size_p,
        e.kind == EventKind::kFree
            ? e.size
            : ZigZag(static_cast<int64_t>(class_sizes[e.size_class] - e.size)));
    class_p = PutVarint(class_p, e.size_class);
  }
  ResetLastPointers();

  uint8_t* const end =
      FinishColumns(kind_start, n, time_start, leading.time_end(),
                    {{thread_start, leading.thread_end()},
                     {ptr_start, ptr_p},
                     {size_start, size_p},
                     {class_start, class_p}});
  size_ = static_cast<size_t>(end - buffer_.data());
}

ChunkDecoder::ChunkDecoder(const SlabGeometry* geometry,
                           uint64_t time_resolution_ns,
                           bool allow_isa_extensions)
    : use_pext_(allow_isa_extensions && HasFastPext()),
      use_ssse3_(allow_isa_extensions && HasSsse3()),
      geometry_(geometry),
      time_resolution_ns_(time_resolution_ns),
      last_ptr_(geometry->num_classes(), 0),
      page_shift_(__builtin_ctzll(geometry->page_size())) {
  for (uint64_t b = 0; b < 128; ++b) {
    one_byte_delta_ns_[b] =
        static_cast<uint64_t>(UnZigZag(b)) * time_resolution_ns;
  }
  for (int c = 0; c < geometry->num_classes(); ++c) {
    class_sizes_.push_back(geometry->region_size(c));
    IndexCoding coding;
    if (geometry->is_small(c)) {
      coding.unit = geometry->region_size(c);
      // nregs = page / gcd(size, page): a power of two <= page.
      coding.shift = __builtin_ctz(geometry->nregs(c));
    } else {
      coding.unit = 1;
      coding.shift = page_shift_;
    }
    // The slab's page number must fit in 64 - page_shift bits.
    coding.max_index = ((~uint64_t{0} >> page_shift_) << coding.shift) |
                       ((uint64_t{1} << coding.shift) - 1);
    index_coding_.push_back(coding);
  }
}

absl::Status ChunkDecoder::Decode(const uint8_t* data, size_t size,
                                  uint32_t count, uint64_t first_seq,
                                  uint32_t flags, Event* out,
                                  uint64_t kind_counts[kNumEventKinds]) {
  absl::Status status = Start(data, size, count, first_seq, flags);
  if (!status.ok()) return status;
  return DecodeNext(count, out, kind_counts);
}

absl::Status ChunkDecoder::Start(const uint8_t* data, size_t size,
                                 uint32_t count, uint64_t first_seq,
                                 uint32_t flags) {
  count_ = decoded_ = 0;
  if ((flags & ~format::kKnownChunkFlags) != 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("unknown chunk flags 0x%x", flags));
  }
  if ((flags & format::kChunkRefCoding) != 0 &&
      (flags & format::kChunkPointersDiv8) != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "chunk flags 0x%x: pointer scaling with the reference coding", flags));
  }
  if ((flags & format::kChunkPackedKinds) != 0 &&
      (flags & format::kChunkRefCoding) == 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "chunk flags 0x%x: packed kinds without the reference coding", flags));
  }
  ref_coding_ = (flags & format::kChunkRefCoding) != 0;
  packed_kinds_ = (flags & format::kChunkPackedKinds) != 0;
  num_columns_ = packed_kinds_ ? static_cast<int>(format::kNumPackedColumns)
                 : ref_coding_ ? static_cast<int>(format::kNumRefColumns)
                               : static_cast<int>(format::kNumColumns);
  Cursors& c = cursors_;
  const uint8_t* p = data;
  const uint8_t* const data_end = data + size;
  for (int i = 0; i < num_columns_; ++i) {
    if (static_cast<size_t>(data_end - p) < format::kColumnLengthBytes) {
      return Malformed(
          absl::StrFormat("column %d length runs past the chunk", i));
    }
    const uint32_t length = GetLe32(p);
    p += format::kColumnLengthBytes;
    if (length > static_cast<size_t>(data_end - p)) {
      return Malformed(absl::StrFormat(
          "column %d length %d runs past the chunk", i, length));
    }
    c.begin[i] = c.at[i] = p;
    p += length;
    c.end[i] = p;
  }
  if (p != data_end) {
    return Malformed(
        absl::StrFormat("%d unused bytes after the columns", data_end - p));
  }
  const size_t kind_bytes =
      c.end[format::kKindApiColumn] - c.begin[format::kKindApiColumn];
  const size_t expected_kind_bytes =
      packed_kinds_ ? (size_t{count} + 1) / 2 : count;
  if (kind_bytes != expected_kind_bytes) {
    return Malformed(absl::StrFormat("kind column has %d bytes for %d events",
                                     kind_bytes, count));
  }
  if (packed_kinds_) {
    absl::Status status = ReadKindTable(c, count);
    if (!status.ok()) return status;
  }
  c.time_ns = 0;
  c.thread = 0;
  std::fill(last_ptr_.begin(), last_ptr_.end(), 0);
  recent_allocs_.pushes = 0;
  recent_frees_.pushes = 0;
  first_seq_ = first_seq;
  ptr_shift_ = (flags & format::kChunkPointersDiv8) ? 3 : 0;
  count_ = count;
  return absl::OkStatus();
}

absl::Status ChunkDecoder::DecodeNext(uint32_t n, Event* out,
                                      uint64_t kind_counts[kNumEventKinds]) {
  n = std::min(n, count_ - decoded_);
  max_thread_ = 0;
  Cursors& c = cursors_;
  // Column by column within blocks that stay in L1: each loop is short and
  // its branches predictable.
  const uint32_t stop = decoded_ + n;
  for (uint32_t begin = decoded_; begin < stop; begin += kBlockEvents) {
    const uint32_t block = std::min(kBlockEvents, stop - begin);
    absl::Status status =
        ref_coding_ ? DecodeRefBlock(c, begin, block, first_seq_,
                                     out + (begin - decoded_), kind_counts)
                    : DecodeBlock(c, begin, block, first_seq_, ptr_shift_,
                                  out + (begin - decoded_), kind_counts);
    if (!status.ok()) {
      count_ = decoded_;  // nothing more to decode from this chunk.
      return status;
    }
  }
  decoded_ = stop;
  if (decoded_ < count_) return absl::OkStatus();
  for (int i = format::kTimeColumn; i < num_columns_; ++i) {
    if (c.at[i] != c.end[i]) {
      return Malformed(
          absl::StrFormat("column %d has %d bytes beyond its %d events", i,
                          c.end[i] - c.at[i], count_));
    }
  }
  return absl::OkStatus();
}

absl::Status ChunkDecoder::DecodeRefBlock(
    Cursors& c, uint32_t begin, uint32_t n, uint64_t first_seq, Event* out,
    uint64_t kind_counts[kNumEventKinds]) {
  absl::Status status =
      packed_kinds_
          ? DecodePackedLeading(c, begin, n, first_seq, out, kind_counts)
          : DecodeLeading(c, begin, n, first_seq, out, kind_counts);
  if (!status.ok()) return status;

#if defined(__x86_64__)
  const uint32_t fused =
      use_pext_ ? DecodeRefsFusedBmi2(c, n, out) : DecodeRefsFused(c, n, out);
#else
  const uint32_t fused = DecodeRefsFused(c, n, out);
#endif
  if (fused == n) return absl::OkStatus();

  // The rest event by event with bounds checks, which finds and names the
  // first malformed value.
  const uint64_t num_classes = class_sizes_.size();
  const uint64_t* const class_sizes = class_sizes_.data();
  const IndexCoding* const index_coding = index_coding_.data();
  const int page_shift = page_shift_;
  uint64_t* const last_ptr = last_ptr_.data();
  for (uint32_t i = fused; i < n; ++i) {
    Event& e = out[i];
    const bool is_free = e.kind == EventKind::kFree;
    const int class_column =
        is_free ? format::kFreeClassColumn : format::kAllocClassColumn;
    const uint64_t list_length =
        is_free ? format::kRecentAllocs : format::kRecentFrees;
    uint64_t v;
    if (!GetVarintFast(&c.at[class_column], c.end[class_column], &v)) {
      return Malformed(absl::StrFormat("event %d: varint overrun", begin + i));
    }
    Recent recent;
    if (v < list_length) {
      const uint32_t d = static_cast<uint32_t>(v);
      const uint32_t listed =
          is_free ? recent_allocs_.listed() : recent_frees_.listed();
      if (d >= listed) {
        return Malformed(
            absl::StrFormat("event %d: refers to recent %s %d of %d", begin + i,
                            is_free ? "allocation" : "free", d, listed));
      }
      recent = is_free ? recent_allocs_.At(d) : recent_frees_.At(d);
    } else {
      const uint64_t size_class = v - list_length;
      if (size_class >= num_classes) {
        return Malformed(absl::StrFormat("event %d: size class %d out of range",
                                         begin + i, size_class));
      }
      const int ptr_column =
          is_free ? format::kFreePointerColumn : format::kAllocPointerColumn;
      if (!GetVarintFast(&c.at[ptr_column], c.end[ptr_column], &v)) {
        return Malformed(
            absl::StrFormat("event %d: varint overrun", begin + i));
      }
      const uint64_t index =
          last_ptr[size_class] + static_cast<uint64_t>(UnZigZag(v));
      const IndexCoding& coding = index_coding[size_class];
      const uint64_t slab = (index >> coding.shift) << page_shift;
      const uint64_t ptr =
          slab + (index & ((uint64_t{1} << coding.shift) - 1)) * coding.unit;
      if (index > coding.max_index || ptr < slab) {
        return Malformed(absl::StrFormat(
            "event %d: slab-region index %d out of range for size class %d",
            begin + i, index, size_class));
      }
      last_ptr[size_class] = index;
      recent = {ptr, slab, static_cast<uint32_t>(size_class)};
    }
    const int size_column =
        is_free ? format::kFreeSizeColumn : format::kAllocSizeColumn;
    if (!GetVarintFast(&c.at[size_column], c.end[size_column], &v)) {
      return Malformed(absl::StrFormat("event %d: varint overrun", begin + i));
    }
    e.ptr = recent.ptr;
    e.slab = recent.slab;
    e.size_class = static_cast<uint16_t>(recent.size_class);
    if (is_free) {
      e.size = v;
      recent_frees_.Push(recent);
    } else {
      e.size =
          class_sizes[recent.size_class] - static_cast<uint64_t>(UnZigZag(v));
      if (e.kind == EventKind::kAlloc) recent_allocs_.Push(recent);
    }
  }
  return absl::OkStatus();
}

absl::Status ChunkDecoder::DecodeLeading(Cursors& c, uint32_t begin, uint32_t n,
                                         uint64_t first_seq, Event* out,
                                         uint64_t kind_counts[kNumEventKinds]) {
  const uint8_t* kind_api = c.begin[format::kRefKindApiColumn] + begin;
  absl::Status status =
      DecodeKinds(kind_api, begin, n, first_seq, out, kind_counts);
  if (!status.ok()) return status;
  uint64_t time_ns = c.time_ns;
  const uint64_t resolution = time_resolution_ns_;
  auto store_time = TimeStore(time_ns, resolution, out);
  const uint32_t timed = DecodeVarints<kOneByteFirst>(
      c.at[format::kRefTimeColumn], c.end[format::kRefTimeColumn], 0, n,
      store_time);
  c.time_ns = time_ns;
  if (timed != n) {
    return Malformed(
        absl::StrFormat("event %d: varint overrun", begin + timed));
  }
  return DecodeThreads(c, kind_api, begin, 0, n, out);
}

namespace {

// A kind byte names a valid kind and api.
bool IsValidKindByte(uint32_t kind_byte) {
  const uint32_t kind =
      (kind_byte & ~format::kSameThreadBit & 0xff) >> format::kApiBits;
  const uint32_t api = kind_byte & ((1u << format::kApiBits) - 1);
  return kind < kNumEventKinds && api < kNumAllocApis;
}

}  // namespace

// An entry of kind_codes_: what the decoder needs of a symbol.
namespace {
constexpr int kCodeSameThreadBit = 16;
constexpr int kCodeTimedBit = 17;
constexpr uint64_t kCodeEscaped = uint64_t{1} << 18;
constexpr uint64_t kCodeMissing = uint64_t{1} << 19;
constexpr int kCodeFreesShift = 32;
constexpr int kCodeResizesShift = 48;

// kind | api << 8 (the bytes of Event::kind and Event::api), the same-thread
// and timed bits, and 1 in the free or resize counter.
uint64_t CodeEntry(uint32_t symbol) {
  const uint32_t kind = (symbol & 0x7f) >> format::kApiBits;
  const uint32_t api = symbol & ((1u << format::kApiBits) - 1);
  uint64_t entry = kind | api << 8;
  entry |= uint64_t{(symbol & format::kSameThreadBit) != 0}
           << kCodeSameThreadBit;
  entry |= uint64_t{(symbol >> 8) & 1} << kCodeTimedBit;
  if (kind == 1) entry |= uint64_t{1} << kCodeFreesShift;
  if (kind == 2) entry |= uint64_t{1} << kCodeResizesShift;
  return entry;
}
}  // namespace

absl::Status ChunkDecoder::ReadKindTable(Cursors& c, uint32_t count) {
  const uint8_t* const table = c.begin[format::kKindTableColumn];
  const size_t bytes = c.end[format::kKindTableColumn] - table;
  if (bytes % format::kKindTableEntryBytes != 0 ||
      bytes > format::kEscapeCode * format::kKindTableEntryBytes) {
    return Malformed(absl::StrFormat("kind table of %d bytes", bytes));
  }
  const uint32_t entries =
      static_cast<uint32_t>(bytes / format::kKindTableEntryBytes);
  for (uint32_t code = 0; code < 16; ++code) {
    kind_codes_[code] =
        code == format::kEscapeCode ? kCodeEscaped : kCodeMissing;
  }
  for (uint32_t code = 0; code < entries; ++code) {
    const uint8_t kind_byte = table[code * format::kKindTableEntryBytes];
    const uint8_t timed = table[code * format::kKindTableEntryBytes + 1];
    if (!IsValidKindByte(kind_byte) || timed > 1) {
      return Malformed(absl::StrFormat(
          "kind table entry %d (kind byte 0x%02x, timed %d) out of range", code,
          kind_byte, timed));
    }
    kind_codes_[code] = CodeEntry(kind_byte | uint32_t{timed} << 8);
  }
  for (uint32_t code = 0; code < 16; ++code) {
    const uint64_t entry = kind_codes_[code];
    const bool slow = (entry & (kCodeEscaped | kCodeMissing)) != 0 ||
                      ((entry >> kCodeSameThreadBit) & 1) == 0;
    code_lanes_.slow[code] = slow ? 0x80 : 0;
    code_lanes_.timed[code] = ((entry >> kCodeTimedBit) & 1) != 0 ? 0x80 : 0;
    code_lanes_.free[code] = ((entry >> kCodeFreesShift) & 1) != 0 ? 0xff : 0;
    code_lanes_.resize[code] =
        ((entry >> kCodeResizesShift) & 1) != 0 ? 0xff : 0;
    code_lanes_.kind[code] = static_cast<uint8_t>(entry);
    code_lanes_.api[code] = static_cast<uint8_t>(entry >> 8);
  }
  c.at[format::kKindTableColumn] = c.end[format::kKindTableColumn];
  // The unused half of an odd chunk's last byte must be 0, like bytes
  // left over in a column.
  if (count % 2 == 1 && (c.end[format::kKindCodeColumn][-1] >> 4) != 0) {
    return Malformed("kind column: the last byte's unused half is not 0");
  }
  return absl::OkStatus();
}

absl::Status ChunkDecoder::DecodePackedLeading(
    Cursors& c, uint32_t begin, uint32_t n, uint64_t first_seq, Event* out,
    uint64_t kind_counts[kNumEventKinds]) {
  // One pass for kinds, times and threads, two events per code byte, each
  // a table load and no unpredictable branch: escaped kinds, time deltas
  // of more than one byte and thread changes take the rare branches. The
  // cursors are locals, written back at the end: the stores into `out`
  // could alias c, which would put each cursor's update through memory.
  static_assert(offsetof(Event, api) == offsetof(Event, kind) + 1,
                "kind and api are stored as one 16-bit value");
  const uint8_t* const codes = c.begin[format::kKindCodeColumn];
  const uint8_t* time_p = c.at[format::kSparseTimeColumn];
  const uint8_t* const time_end = c.end[format::kSparseTimeColumn];
  const uint8_t* escape_p = c.at[format::kKindEscapeColumn];
  const uint8_t* const escape_end = c.end[format::kKindEscapeColumn];
  const uint8_t* thread_p = c.at[format::kRefThreadColumn];
  const uint8_t* const thread_end = c.end[format::kRefThreadColumn];
  const uint64_t* const code_entries = kind_codes_;
  const uint64_t* const delta_ns = one_byte_delta_ns_;
  const uint64_t resolution = time_resolution_ns_;
  const uint64_t seq = first_seq + begin;
  uint64_t time_ns = c.time_ns;
  uint32_t thread = c.thread;
  uint32_t max_thread = max_thread_;
  uint64_t counts = 0;  // frees and resizes, as in the code entries.
  // What stopped the loop, at event `bad_at`, with the value in question:
  // the messages are made after the loop, which keeps calls (and the
  // registers they clobber) out of it.
  enum Problem { kNone, kMissingCode, kOverrun, kBadEscape, kBadThread };
  Problem problem = kNone;
  uint32_t bad_at = 0;
  uint64_t bad_value = 0;
  auto fail = [&](Problem p, uint32_t i, uint64_t value) {
    problem = p;
    bad_at = begin + i;
    bad_value = value;
    return false;
  };
  // Decodes event i with the given code; false at a problem.
  auto decode = [&](uint32_t i, uint32_t code) __attribute__((always_inline)) {
    uint64_t entry = code_entries[code];
    if (ABSL_PREDICT_FALSE((entry & (kCodeEscaped | kCodeMissing)) != 0)) {
      if (entry == kCodeMissing) return fail(kMissingCode, i, code);
      uint64_t v;
      if (!GetVarintFast(&escape_p, escape_end, &v)) {
        return fail(kOverrun, i, 0);
      }
      if (v > 0x1ff || !IsValidKindByte(static_cast<uint32_t>(v))) {
        return fail(kBadEscape, i, v);
      }
      entry = CodeEntry(static_cast<uint32_t>(v));
    }
    counts += entry;
    Event& e = out[i];
    e.seq = seq + i;
    const uint16_t kind_api = static_cast<uint16_t>(entry);
    std::memcpy(&e.kind, &kind_api, sizeof(kind_api));
    // A one-byte delta is read by untimed events too, masked to 0 and not
    // moved past: the only branch is on the delta's length.
    const uint32_t timed = (entry >> kCodeTimedBit) & 1;
    if (ABSL_PREDICT_TRUE(time_p < time_end && *time_p < 0x80)) {
      time_ns += delta_ns[*time_p & (0u - timed)];
      time_p += timed;
    } else if (timed) {
      uint64_t delta;
      if (!GetVarintFast(&time_p, time_end, &delta)) {
        return fail(kOverrun, i, 0);
      }
      time_ns += static_cast<uint64_t>(UnZigZag(delta)) * resolution;
    }
    e.time_ns = time_ns;
    if (ABSL_PREDICT_FALSE(((entry >> kCodeSameThreadBit) & 1) == 0)) {
      uint64_t v;
      if (!GetVarintFast(&thread_p, thread_end, &v)) {
        return fail(kOverrun, i, 0);
      }
      if (v > std::numeric_limits<uint32_t>::max()) {
        return fail(kBadThread, i, v);
      }
      thread = static_cast<uint32_t>(v);
      max_thread = std::max(max_thread, thread);
    }
    e.thread = thread;
    return true;
  };
  uint32_t i = 0;
  bool ok = true;
  if (n > 0 && (begin & 1) != 0) {  // the high half of a byte first.
    ok = decode(0, codes[begin >> 1] >> 4);
    i = 1;
  }
  while (ok && i + 1 < n) {
#if defined(__x86_64__)
    if (use_ssse3_) {
      PackedRun run{time_p, time_end, time_ns, thread};
      i = DecodePackedGroups(run, codes, begin, i, n, seq, out);
      time_p = run.time_p;
      time_ns = run.time_ns;
      counts += uint64_t{run.frees} << kCodeFreesShift |
                uint64_t{run.resizes} << kCodeResizesShift;
    }
#endif
    // The group the fast path stopped at, event by event.
    for (const uint32_t end = std::min(n, i + 16); ok && i + 1 < end; i += 2) {
      const uint8_t byte = codes[(begin + i) >> 1];
      ok = decode(i, byte & 0xf) && decode(i + 1, byte >> 4);
    }
  }
  if (ok && i < n) ok = decode(i, codes[(begin + i) >> 1] & 0xf);
  switch (problem) {
    case kNone:
      break;
    case kMissingCode:
      return Malformed(
          absl::StrFormat("event %d: kind code %d is not in the kind table",
                          bad_at, bad_value));
    case kOverrun:
      return Malformed(absl::StrFormat("event %d: varint overrun", bad_at));
    case kBadEscape:
      return Malformed(
          absl::StrFormat("event %d: escaped kind symbol 0x%x out of range",
                          bad_at, bad_value));
    case kBadThread:
      return Malformed(absl::StrFormat("event %d: thread %d out of range",
                                       bad_at, bad_value));
  }
  // The first event has the thread it continues or one read above.
  max_thread_ = std::max(max_thread, n > 0 ? out[0].thread : 0);
  c.at[format::kSparseTimeColumn] = time_p;
  c.at[format::kKindEscapeColumn] = escape_p;
  c.at[format::kRefThreadColumn] = thread_p;
  c.time_ns = time_ns;
  c.thread = thread;
  const uint32_t frees =
      static_cast<uint32_t>(counts >> kCodeFreesShift) & 0xffff;
  const uint32_t resizes = static_cast<uint32_t>(counts >> kCodeResizesShift);
  kind_counts[0] += n - frees - resizes;
  kind_counts[1] += frees;
  kind_counts[2] += resizes;
  return absl::OkStatus();
}

#if defined(__x86_64__)
namespace {

// For each 8-bit mask of timed events, the pshufb control that moves the
// next time bytes to them: event j's lane gets the number of timed events
// before it, an untimed event's lane 0x80, which selects 0.
struct TimeSpread {
  uint64_t lanes[256];
};
constexpr TimeSpread MakeTimeSpread() {
  TimeSpread spread{};
  for (uint32_t mask = 0; mask < 256; ++mask) {
    uint64_t lanes = 0;
    uint32_t rank = 0;
    for (uint32_t j = 0; j < 8; ++j) {
      const uint64_t lane = (mask >> j) & 1 ? rank++ : 0x80;
      lanes |= lane << (8 * j);
    }
    spread.lanes[mask] = lanes;
  }
  return spread;
}
constexpr TimeSpread kTimeSpread = MakeTimeSpread();

}  // namespace

uint32_t ChunkDecoder::DecodePackedGroups(PackedRun& run, const uint8_t* codes,
                                          uint32_t begin, uint32_t i,
                                          uint32_t n, uint64_t seq,
                                          Event* out) {
  const auto lanes = [](const uint8_t* table) {
    return _mm_load_si128(reinterpret_cast<const __m128i*>(table));
  };
  const __m128i slow_lanes = lanes(code_lanes_.slow);
  const __m128i timed_lanes = lanes(code_lanes_.timed);
  const __m128i free_lanes = lanes(code_lanes_.free);
  const __m128i resize_lanes = lanes(code_lanes_.resize);
  const __m128i kind_lanes = lanes(code_lanes_.kind);
  const __m128i api_lanes = lanes(code_lanes_.api);
  const __m128i low_nibbles = _mm_set1_epi8(0x0f);
  const uint64_t* const delta_ns = one_byte_delta_ns_;
  const uint8_t* time_p = run.time_p;
  const uint8_t* const time_end = run.time_end;
  uint64_t time_ns = run.time_ns;
  const uint32_t thread = run.thread;
  uint32_t frees = 0;
  uint32_t resizes = 0;
  for (; i + 16 <= n; i += 16) {
    const __m128i bytes = _mm_loadl_epi64(
        reinterpret_cast<const __m128i*>(codes + ((begin + i) >> 1)));
    const __m128i code =
        _mm_unpacklo_epi8(_mm_and_si128(bytes, low_nibbles),
                          _mm_and_si128(_mm_srli_epi16(bytes, 4), low_nibbles));
    if (_mm_movemask_epi8(_mm_shuffle_epi8(slow_lanes, code)) != 0) break;
    if (time_end - time_p < 16) break;
    const uint32_t timed = static_cast<uint32_t>(
        _mm_movemask_epi8(_mm_shuffle_epi8(timed_lanes, code)));
    const uint32_t timed_events = __builtin_popcount(timed);
    const __m128i time_bytes =
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(time_p));
    // A delta of more than one byte among the group's.
    if ((static_cast<uint32_t>(_mm_movemask_epi8(time_bytes)) &
         ((uint32_t{1} << timed_events) - 1)) != 0) {
      break;
    }
    const __m128i spread = _mm_unpacklo_epi64(
        _mm_loadl_epi64(
            reinterpret_cast<const __m128i*>(&kTimeSpread.lanes[timed & 0xff])),
        _mm_add_epi8(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(
                         &kTimeSpread.lanes[timed >> 8])),
                     _mm_set1_epi8(
                         static_cast<char>(__builtin_popcount(timed & 0xff)))));
    alignas(16) uint8_t delta[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(delta),
                    _mm_shuffle_epi8(time_bytes, spread));
    const __m128i kinds = _mm_shuffle_epi8(kind_lanes, code);
    const __m128i apis = _mm_shuffle_epi8(api_lanes, code);
    alignas(16) uint16_t kind_api[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(kind_api),
                    _mm_unpacklo_epi8(kinds, apis));
    _mm_store_si128(reinterpret_cast<__m128i*>(kind_api + 8),
                    _mm_unpackhi_epi8(kinds, apis));
    frees += __builtin_popcount(static_cast<uint32_t>(
        _mm_movemask_epi8(_mm_shuffle_epi8(free_lanes, code))));
    resizes += __builtin_popcount(static_cast<uint32_t>(
        _mm_movemask_epi8(_mm_shuffle_epi8(resize_lanes, code))));
    time_p += timed_events;
    Event* const e = out + i;
#pragma GCC unroll 16
    for (uint32_t j = 0; j < 16; ++j) {
      e[j].seq = seq + i + j;
      time_ns += delta_ns[delta[j]];
      e[j].time_ns = time_ns;
      std::memcpy(&e[j].kind, &kind_api[j], sizeof(kind_api[j]));
      e[j].thread = thread;
    }
  }
  run.time_p = time_p;
  run.time_ns = time_ns;
  run.frees = frees;
  run.resizes = resizes;
  return i;
}
#endif

bool ChunkDecoder::ExplicitPointer(uint64_t size_class, uint64_t delta,
                                   Recent* recent) {
  if (ABSL_PREDICT_FALSE(size_class >= class_sizes_.size())) return false;
  uint64_t& last = last_ptr_[size_class];
  const uint64_t index = last + static_cast<uint64_t>(UnZigZag(delta));
  const IndexCoding& coding = index_coding_[size_class];
  const uint64_t slab = (index >> coding.shift) << page_shift_;
  const uint64_t ptr =
      slab + (index & ((uint64_t{1} << coding.shift) - 1)) * coding.unit;
  if (ABSL_PREDICT_FALSE(index > coding.max_index || ptr < slab)) return false;
  last = index;
  *recent = {ptr, slab, static_cast<uint32_t>(size_class)};
  return true;
}

uint32_t ChunkDecoder::DecodeRefsFused(Cursors& c, uint32_t n, Event* out) {
  return DecodeRefsFusedWith<kBranchless>(c, n, out);
}

#if defined(__x86_64__)
uint32_t ChunkDecoder::DecodeRefsFusedBmi2(Cursors& c, uint32_t n, Event* out) {
  return DecodeRefsFusedWith<kPext>(c, n, out);
}
#endif

template <int kPointerPath>
uint32_t ChunkDecoder::DecodeRefsFusedWith(Cursors& c, uint32_t n, Event* out) {
  // Events come in runs of one kind (3.4 events on average in Redis-like
  // traffic), so the loop is specialized by kind: a run of allocations or
  // resizes, then one of frees, each with its own columns and lists and no
  // choice by kind inside. The state is scalars passed by reference, which
  // the compiler keeps in registers (arrays indexed by the kind were kept
  // in memory, a store-to-load wait per event on each cursor). References
  // and explicit pointers interleave at random; there a branch measured
  // faster than computing both and selecting (proto/README.md).
  const uint8_t* alloc_class_p = c.at[format::kAllocClassColumn];
  const uint8_t* free_class_p = c.at[format::kFreeClassColumn];
  const uint8_t* alloc_size_p = c.at[format::kAllocSizeColumn];
  const uint8_t* free_size_p = c.at[format::kFreeSizeColumn];
  const uint8_t* alloc_ptr_p = c.at[format::kAllocPointerColumn];
  const uint8_t* free_ptr_p = c.at[format::kFreePointerColumn];
  uint32_t alloc_pushes = recent_allocs_.pushes;
  uint32_t free_pushes = recent_frees_.pushes;
  bool stopped = false;
  // Decodes events [i, end) while they are frees (kFree) or not, up to the
  // first that cannot be decoded here; returns where it stopped. `own`
  // and `other` are the lists of the event's kind and of the kind its
  // references name.
  auto run = [&](auto kind_constant, uint32_t i, uint32_t end,
                 const uint8_t*& class_p, const uint8_t*& size_p,
                 const uint8_t*& ptr_p, uint32_t& own_pushes,
                 uint32_t other_pushes, Recent* own, const Recent* other)
      __attribute__((always_inline)) {
    constexpr bool kFree = decltype(kind_constant)::value;
    constexpr uint32_t kOwnMask = kFree ? decltype(recent_frees_)::kMask
                                        : decltype(recent_allocs_)::kMask;
    constexpr uint32_t kOtherMask = kFree ? decltype(recent_allocs_)::kMask
                                          : decltype(recent_frees_)::kMask;
    constexpr uint32_t kListLength =
        kFree ? format::kRecentAllocs : format::kRecentFrees;
    const uint32_t listed = std::min(other_pushes, kListLength);
    for (; i < end; ++i) {
      Event& e = out[i];
      if ((e.kind == EventKind::kFree) != kFree) break;
      const uint8_t* next_class = class_p;
      const uint8_t* next_size = size_p;
      uint64_t v, size_v;
      if (!GetVarintUnchecked<kOneByteFirst>(&next_class, &v) ||
          !GetVarintUnchecked<kOneByteFirst>(&next_size, &size_v)) {
        stopped = true;
        break;
      }
      Recent recent;
      if (v < kListLength) {
        // A reference: the entry `v` back in the other kind's list, which
        // does not change during a run.
        if (ABSL_PREDICT_FALSE(v >= listed)) {
          stopped = true;
          break;
        }
        recent =
            other[(other_pushes - 1 - static_cast<uint32_t>(v)) & kOtherMask];
      } else {
        const uint8_t* next_ptr = ptr_p;
        uint64_t ptr_v;
        if (!GetVarintUnchecked<static_cast<VarintPath>(kPointerPath)>(
                &next_ptr, &ptr_v) ||
            !ExplicitPointer(v - kListLength, ptr_v, &recent)) {
          stopped = true;
          break;
        }
        ptr_p = next_ptr;
      }
      e.ptr = recent.ptr;
      e.slab = recent.slab;
      e.size_class = static_cast<uint16_t>(recent.size_class);
      e.size = kFree ? size_v
                     : class_sizes_[recent.size_class] -
                           static_cast<uint64_t>(UnZigZag(size_v));
      // The entry goes to the slot past the end of its kind's list (a
      // resize's to the allocations' one); only frees and kAlloc events
      // move the end over it.
      own[own_pushes & kOwnMask] = recent;
      own_pushes += kFree || e.kind == EventKind::kAlloc;
      class_p = next_class;
      size_p = next_size;
    }
    return i;
  };
  uint32_t i = 0;
  while (i < n && !stopped) {
    // A batch that cannot run out of any column: an event takes at most
    // one varint from each, so with k * kMaxVarintBytes bytes left in
    // every column the next k events fit; near the columns' ends the
    // checked loop takes over.
    const size_t room =
        std::min({c.end[format::kAllocClassColumn] - alloc_class_p,
                  c.end[format::kFreeClassColumn] - free_class_p,
                  c.end[format::kAllocSizeColumn] - alloc_size_p,
                  c.end[format::kFreeSizeColumn] - free_size_p,
                  c.end[format::kAllocPointerColumn] - alloc_ptr_p,
                  c.end[format::kFreePointerColumn] - free_ptr_p});
    const uint32_t batch_end =
        static_cast<uint32_t>(std::min<size_t>(n, i + room / kMaxVarintBytes));
    if (batch_end == i) break;
    while (i < batch_end && !stopped) {
      if (out[i].kind == EventKind::kFree) {
        i = run(std::true_type(), i, batch_end, free_class_p, free_size_p,
                free_ptr_p, free_pushes, alloc_pushes, recent_frees_.slots,
                recent_allocs_.slots);
      } else {
        i = run(std::false_type(), i, batch_end, alloc_class_p, alloc_size_p,
                alloc_ptr_p, alloc_pushes, free_pushes, recent_allocs_.slots,
                recent_frees_.slots);
      }
    }
  }
  recent_allocs_.pushes = alloc_pushes;
  recent_frees_.pushes = free_pushes;
  c.at[format::kAllocClassColumn] = alloc_class_p;
  c.at[format::kFreeClassColumn] = free_class_p;
  c.at[format::kAllocSizeColumn] = alloc_size_p;
  c.at[format::kFreeSizeColumn] = free_size_p;
  c.at[format::kAllocPointerColumn] = alloc_ptr_p;
  c.at[format::kFreePointerColumn] = free_ptr_p;
  return i;
}

absl::Status ChunkDecoder::DecodeBlock(Cursors& c, uint32_t begin, uint32_t n,
                                       uint64_t first_seq, int ptr_shift,
                                       Event* out,
                                       uint64_t kind_counts[kNumEventKinds]) {
  const uint8_t* kind_api = c.begin[format::kKindApiColumn] + begin;
  absl::Status status =
      DecodeKinds(kind_api, begin, n, first_seq, out, kind_counts);
  if (!status.ok()) return status;

  // Locals instead of members: the stores into `out` could alias a
  // uint64_t member, which would force a reload per event.
  uint64_t time_ns = c.time_ns;
  const uint64_t resolution = time_resolution_ns_;
  auto store_time = TimeStore(time_ns, resolution, out);
  absl::Status rejected;
  const uint64_t num_classes = last_ptr_.size();
  auto store_class = [&](uint32_t i, uint64_t v) {
    if (ABSL_PREDICT_FALSE(v >= num_classes)) {
      rejected = Malformed(absl::StrFormat(
          "event %d: size class %d out of range", begin + i, v));
      return false;
    }
    out[i].size_class = static_cast<uint16_t>(v);
    return true;
  };
  const uint64_t* class_sizes = class_sizes_.data();
  auto store_size = [&](uint32_t i, uint64_t v) {
    // Allocations and frees interleave at random: select without a branch.
    const uint64_t alloc_size =
        class_sizes[out[i].size_class] - static_cast<uint64_t>(UnZigZag(v));
    const uint64_t free_mask =
        uint64_t{0} - uint64_t{out[i].kind == EventKind::kFree};
    out[i].size = (v & free_mask) | (alloc_size & ~free_mask);
    return true;
  };
  uint64_t* last_ptr = last_ptr_.data();
  const SlabGeometry& geometry = *geometry_;
  auto store_ptr = [&](uint32_t i, uint64_t v) {
    const uint16_t size_class = out[i].size_class;
    const uint64_t scaled =
        last_ptr[size_class] + static_cast<uint64_t>(UnZigZag(v));
    last_ptr[size_class] = scaled;
    const uint64_t ptr = scaled << ptr_shift;
    out[i].ptr = ptr;
    out[i].slab = geometry.GranuleOf(ptr, size_class);
    return true;
  };

  const uint32_t fused = DecodeFused(c, kind_api, n, out, store_time,
                                     store_class, store_size, store_ptr);
  c.time_ns = time_ns;
  if (fused == n) return absl::OkStatus();

  // The rest column by column, with bounds checks. Events before `fused`
  // are valid in every column, so this reports the same first error as
  // decoding the whole block column by column would.
  auto finish = [&](uint32_t decoded) {
    if (decoded == n) return absl::OkStatus();
    if (!rejected.ok()) return rejected;
    return Malformed(
        absl::StrFormat("event %d: varint overrun", begin + decoded));
  };
  status = finish(DecodeVarints<kOneByteFirst>(c.at[format::kTimeColumn],
                                               c.end[format::kTimeColumn],
                                               fused, n, store_time));
  c.time_ns = time_ns;
  if (!status.ok()) return status;
  status = DecodeThreads(c, kind_api, begin, fused, n, out);
  if (!status.ok()) return status;
  status = finish(DecodeVarints<kOneByteFirst>(c.at[format::kSizeClassColumn],
                                               c.end[format::kSizeClassColumn],
                                               fused, n, store_class));
  if (!status.ok()) return status;
  status = finish(DecodeVarints<kOneByteFirst>(c.at[format::kSizeColumn],
                                               c.end[format::kSizeColumn],
                                               fused, n, store_size));
  if (!status.ok()) return status;
  return finish(DecodeVarints<kOneByteFirst>(c.at[format::kPointerColumn],
                                             c.end[format::kPointerColumn],
                                             fused, n, store_ptr));
}

template <typename StoreTime, typename StoreClass, typename StoreSize,
          typename StorePtr>
uint32_t ChunkDecoder::DecodeFused(Cursors& c, const uint8_t* kind_api,
                                   uint32_t n, Event* out,
                                   StoreTime& store_time,
                                   StoreClass& store_class,
                                   StoreSize& store_size, StorePtr& store_ptr) {
  const uint8_t* time_p = c.at[format::kTimeColumn];
  const uint8_t* class_p = c.at[format::kSizeClassColumn];
  const uint8_t* size_p = c.at[format::kSizeColumn];
  const uint8_t* ptr_p = c.at[format::kPointerColumn];
  const uint8_t* thread_p = c.at[format::kThreadColumn];
  const uint8_t* const thread_end = c.end[format::kThreadColumn];
  const uint64_t num_classes = last_ptr_.size();
  uint32_t thread = c.thread;
  uint32_t max_thread = max_thread_;
  uint32_t i = 0;
  bool malformed = false;
  // In batches that cannot run out of any column: with k * kMaxVarintBytes
  // bytes left, the next k varints fit. Most varints take one byte, so the
  // batches shrink slowly and reach close to the columns' ends.
  while (i < n && !malformed) {
    const size_t room = std::min({c.end[format::kTimeColumn] - time_p,
                                  c.end[format::kSizeClassColumn] - class_p,
                                  c.end[format::kSizeColumn] - size_p,
                                  c.end[format::kPointerColumn] - ptr_p});
    const uint32_t batch_end =
        static_cast<uint32_t>(std::min<size_t>(n, i + room / kMaxVarintBytes));
    if (batch_end == i) break;
    for (; i < batch_end; ++i) {
      // Nothing is stored until all of the event's columns are valid.
      uint64_t time_v, class_v, size_v, ptr_v, thread_v = thread;
      const uint8_t* next_time = time_p;
      const uint8_t* next_class = class_p;
      const uint8_t* next_size = size_p;
      const uint8_t* next_ptr = ptr_p;
      const uint8_t* next_thread = thread_p;
      if (!GetVarintUnchecked<kOneByteFirst>(&next_time, &time_v) ||
          !GetVarintUnchecked<kOneByteFirst>(&next_class, &class_v) ||
          class_v >= num_classes ||
          !GetVarintUnchecked<kOneByteFirst>(&next_size, &size_v) ||
          !GetVarintUnchecked<kBranchless>(&next_ptr, &ptr_v) ||
          (ABSL_PREDICT_FALSE((kind_api[i] & format::kSameThreadBit) == 0) &&
           (!GetVarintFast(&next_thread, thread_end, &thread_v) ||
            thread_v > std::numeric_limits<uint32_t>::max()))) {
        malformed = true;
        break;
      }
      thread = static_cast<uint32_t>(thread_v);
      out[i].thread = thread;
      max_thread = std::max(max_thread, thread);
      store_time(i, time_v);
      store_class(i, class_v);
      store_size(i, size_v);
      store_ptr(i, ptr_v);
      time_p = next_time;
      class_p = next_class;
      size_p = next_size;
      ptr_p = next_ptr;
      thread_p = next_thread;
    }
  }
  c.at[format::kTimeColumn] = time_p;
  c.at[format::kSizeClassColumn] = class_p;
  c.at[format::kSizeColumn] = size_p;
  c.at[format::kPointerColumn] = ptr_p;
  c.at[format::kThreadColumn] = thread_p;
  c.thread = thread;
  max_thread_ = max_thread;
  return i;
}

absl::Status ChunkDecoder::DecodeKinds(const uint8_t* kind_api, uint32_t begin,
                                       uint32_t n, uint64_t first_seq,
                                       Event* out,
                                       uint64_t kind_counts[kNumEventKinds]) {
  static_assert(kNumEventKinds == 3, "counts kinds 1 and 2 in registers");
  constexpr uint8_t kApiMask = (1u << format::kApiBits) - 1;
  // Counting in registers and checking once per block keeps the loop free
  // of a store-to-load chain through kind_counts and of branches.
  uint32_t frees = 0;
  uint32_t resizes = 0;
  bool bad = false;
  const uint64_t seq = first_seq + begin;
  for (uint32_t i = 0; i < n; ++i) {
    const uint8_t kind =
        (kind_api[i] & ~format::kSameThreadBit) >> format::kApiBits;
    const uint8_t api = kind_api[i] & kApiMask;
    bad |= (kind >= kNumEventKinds) | (api >= kNumAllocApis);
    frees += kind == 1;
    resizes += kind == 2;
    out[i].seq = seq + i;
    out[i].kind = static_cast<EventKind>(kind);
    out[i].api = static_cast<AllocApi>(api);
  }
  if (bad) {
    for (uint32_t i = 0; i < n; ++i) {
      const uint8_t kind =
          (kind_api[i] & ~format::kSameThreadBit) >> format::kApiBits;
      const uint8_t api = kind_api[i] & kApiMask;
      if (kind >= kNumEventKinds || api >= kNumAllocApis) {
        return Malformed(absl::StrFormat(
            "event %d: kind %d / api %d out of range", begin + i, kind, api));
      }
    }
  }
  kind_counts[0] += n - frees - resizes;
  kind_counts[1] += frees;
  kind_counts[2] += resizes;
  return absl::OkStatus();
}

absl::Status ChunkDecoder::DecodeThreads(Cursors& c, const uint8_t* kind_api,
                                         uint32_t begin, uint32_t first,
                                         uint32_t n, Event* out) {
  const uint8_t*& at = c.at[format::kThreadColumn];
  const uint8_t* const end = c.end[format::kThreadColumn];
  uint32_t thread = c.thread;
  uint32_t max_thread = max_thread_;
  for (uint32_t i = first; i < n; ++i) {
    if ((kind_api[i] & format::kSameThreadBit) == 0) {
      uint64_t v;
      if (!GetVarintFast(&at, end, &v)) {
        return Malformed(
            absl::StrFormat("event %d: varint overrun", begin + i));
      }
      if (v > std::numeric_limits<uint32_t>::max()) {
        return Malformed(
            absl::StrFormat("event %d: thread %d out of range", begin + i, v));
      }
      thread = static_cast<uint32_t>(v);
      max_thread = std::max(max_thread, thread);
    }
    out[i].thread = thread;
  }
  // The first event has the thread it continues or one read above.
  max_thread_ = std::max(max_thread, first < n ? out[first].thread : 0);
  c.thread = thread;
  return absl::OkStatus();
}

}  // namespace internal
}  // namespace slabtrace
