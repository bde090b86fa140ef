#include "proto/internal/event_columns.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

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

}  // namespace

ChunkEncoder::ChunkEncoder(std::vector<uint64_t> class_sizes)
    : class_sizes_(std::move(class_sizes)), last_ptr_(kNumSizeClassSlots, 0) {
  class_sizes_.resize(kNumSizeClassSlots, 0);
}

void ChunkEncoder::Encode(absl::Span<const Event> events,
                          uint64_t time_resolution_ns) {
  const size_t n = events.size();
  const size_t capacity = format::kNumColumns * format::kColumnLengthBytes +
                          n * (1 + (format::kNumColumns - 1) * kMaxVarintBytes);
  if (buffer_.size() < capacity) buffer_.resize(capacity);

  bool aligned = true;
  for (const Event& e : events) aligned &= (e.ptr & 7) == 0;
  flags_ = aligned ? format::kChunkPointersDiv8 : 0;
  const int ptr_shift = aligned ? 3 : 0;

  uint8_t* p = buffer_.data();
  auto column = [&p](auto&& encode_one) {
    uint8_t* length_at = p;
    p += format::kColumnLengthBytes;
    uint8_t* start = p;
    encode_one();
    PutLe32(length_at, static_cast<uint32_t>(p - start));
  };

  column([&] {
    uint32_t previous_thread = 0;
    for (const Event& e : events) {
      const uint8_t same_thread =
          e.thread == previous_thread ? format::kSameThreadBit : 0;
      *p++ = static_cast<uint8_t>(
          same_thread | static_cast<uint8_t>(e.kind) << format::kApiBits |
          static_cast<uint8_t>(e.api));
      previous_thread = e.thread;
    }
  });
  column([&] {
    uint64_t previous = 0;
    const Divider divide(time_resolution_ns);
    for (const Event& e : events) {
      const uint64_t t = divide(e.time_ns);
      p = PutVarint(p, ZigZag(static_cast<int64_t>(t - previous)));
      previous = t;
    }
  });
  column([&] {
    uint32_t previous_thread = 0;
    for (const Event& e : events) {
      if (e.thread != previous_thread) p = PutVarint(p, e.thread);
      previous_thread = e.thread;
    }
  });
  column([&] {
    for (const Event& e : events) {
      uint64_t& last = last_ptr_[e.size_class];
      if (last == 0) touched_.push_back(e.size_class);
      const uint64_t scaled = e.ptr >> ptr_shift;
      p = PutVarint(p, ZigZag(static_cast<int64_t>(scaled - last)));
      // A pointer of 0 would look untouched; it only costs a duplicate
      // entry in touched_.
      last = scaled;
    }
    for (uint16_t c : touched_) last_ptr_[c] = 0;
    touched_.clear();
  });
  column([&] {
    for (const Event& e : events) {
      p = PutVarint(p, e.kind == EventKind::kFree
                           ? e.size
                           : ZigZag(static_cast<int64_t>(
                                 class_sizes_[e.size_class] - e.size)));
    }
  });
  column([&] {
    for (const Event& e : events) p = PutVarint(p, e.size_class);
  });
  size_ = static_cast<size_t>(p - buffer_.data());
}

struct ChunkDecoder::Cursors {
  const uint8_t* begin[format::kNumColumns];
  const uint8_t* at[format::kNumColumns];
  const uint8_t* end[format::kNumColumns];
  uint64_t time = 0;
  uint32_t thread = 0;
};

ChunkDecoder::ChunkDecoder(const SlabGeometry* geometry,
                           uint64_t time_resolution_ns)
    : geometry_(geometry),
      time_resolution_ns_(time_resolution_ns),
      last_ptr_(geometry->num_classes(), 0) {
  for (int c = 0; c < geometry->num_classes(); ++c) {
    class_sizes_.push_back(geometry->region_size(c));
  }
}

absl::Status ChunkDecoder::Decode(const uint8_t* data, size_t size,
                                  uint32_t count, uint64_t first_seq,
                                  uint32_t flags, Event* out,
                                  uint64_t kind_counts[kNumEventKinds]) {
  if ((flags & ~format::kKnownChunkFlags) != 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("unknown chunk flags 0x%x", flags));
  }
  const int ptr_shift = (flags & format::kChunkPointersDiv8) ? 3 : 0;

  Cursors c;
  const uint8_t* p = data;
  const uint8_t* const data_end = data + size;
  for (int i = 0; i < format::kNumColumns; ++i) {
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
  if (kind_bytes != count) {
    return Malformed(absl::StrFormat("kind column has %d bytes for %d events",
                                     kind_bytes, count));
  }
  std::fill(last_ptr_.begin(), last_ptr_.end(), 0);
  // Column by column within blocks that stay in L1: each loop is short and
  // its branches predictable.
  constexpr uint32_t kBlock = 512;
  for (uint32_t begin = 0; begin < count; begin += kBlock) {
    const uint32_t n = std::min(kBlock, count - begin);
    absl::Status status = DecodeBlock(c, begin, n, first_seq, ptr_shift,
                                      out + begin, kind_counts);
    if (!status.ok()) return status;
  }
  for (int i = format::kTimeColumn; i < format::kNumColumns; ++i) {
    if (c.at[i] != c.end[i]) {
      return Malformed(
          absl::StrFormat("column %d has %d bytes beyond its %d events", i,
                          c.end[i] - c.at[i], count));
    }
  }
  return absl::OkStatus();
}

absl::Status ChunkDecoder::DecodeBlock(Cursors& c, uint32_t begin, uint32_t n,
                                       uint64_t first_seq, int ptr_shift,
                                       Event* out,
                                       uint64_t kind_counts[kNumEventKinds]) {
  auto overrun = [begin](uint32_t i) {
    return Malformed(absl::StrFormat("event %d: varint overrun", begin + i));
  };
  const uint8_t* kind_api = c.begin[format::kKindApiColumn] + begin;
  for (uint32_t i = 0; i < n; ++i) {
    const uint8_t kind =
        (kind_api[i] & ~format::kSameThreadBit) >> format::kApiBits;
    const uint8_t api = kind_api[i] & ((1u << format::kApiBits) - 1);
    if (kind >= kNumEventKinds || api >= kNumAllocApis) {
      return Malformed(absl::StrFormat(
          "event %d: kind %d / api %d out of range", begin + i, kind, api));
    }
    ++kind_counts[kind];
    out[i].seq = first_seq + begin + i;
    out[i].kind = static_cast<EventKind>(kind);
    out[i].api = static_cast<AllocApi>(api);
  }
  uint64_t v;
  const uint8_t*& time = c.at[format::kTimeColumn];
  for (uint32_t i = 0; i < n; ++i) {
    if (!GetVarintFast(&time, c.end[format::kTimeColumn], &v))
      return overrun(i);
    c.time += static_cast<uint64_t>(UnZigZag(v));
    out[i].time_ns = c.time * time_resolution_ns_;
  }
  const uint8_t*& thread = c.at[format::kThreadColumn];
  for (uint32_t i = 0; i < n; ++i) {
    if ((kind_api[i] & format::kSameThreadBit) == 0) {
      if (!GetVarintFast(&thread, c.end[format::kThreadColumn], &v)) {
        return overrun(i);
      }
      if (v > std::numeric_limits<uint32_t>::max()) {
        return Malformed(
            absl::StrFormat("event %d: thread %d out of range", begin + i, v));
      }
      c.thread = static_cast<uint32_t>(v);
    }
    out[i].thread = c.thread;
  }
  const uint32_t num_classes = static_cast<uint32_t>(last_ptr_.size());
  const uint8_t*& size_class = c.at[format::kSizeClassColumn];
  for (uint32_t i = 0; i < n; ++i) {
    if (!GetVarintFast(&size_class, c.end[format::kSizeClassColumn], &v)) {
      return overrun(i);
    }
    if (v >= num_classes) {
      return Malformed(absl::StrFormat("event %d: size class %d out of range",
                                       begin + i, v));
    }
    out[i].size_class = static_cast<uint16_t>(v);
  }
  const uint8_t*& size = c.at[format::kSizeColumn];
  for (uint32_t i = 0; i < n; ++i) {
    if (!GetVarintFast(&size, c.end[format::kSizeColumn], &v))
      return overrun(i);
    out[i].size = out[i].kind == EventKind::kFree
                      ? v
                      : class_sizes_[out[i].size_class] -
                            static_cast<uint64_t>(UnZigZag(v));
  }
  const uint8_t*& ptr = c.at[format::kPointerColumn];
  for (uint32_t i = 0; i < n; ++i) {
    if (!GetVarintFast(&ptr, c.end[format::kPointerColumn], &v)) {
      return overrun(i);
    }
    uint64_t& last = last_ptr_[out[i].size_class];
    last += static_cast<uint64_t>(UnZigZag(v));
    out[i].ptr = last << ptr_shift;
    out[i].slab = geometry_->GranuleOf(out[i].ptr, out[i].size_class);
  }
  return absl::OkStatus();
}

}  // namespace internal
}  // namespace slabtrace
