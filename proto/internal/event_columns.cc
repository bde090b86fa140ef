#include "proto/internal/event_columns.h"

#include <cstring>
#include <limits>

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

}  // namespace

ChunkEncoder::ChunkEncoder() : last_ptr_(kNumSizeClassSlots, 0) {}

void ChunkEncoder::Encode(absl::Span<const Event> events,
                          uint64_t time_resolution_ns) {
  const size_t n = events.size();
  const size_t capacity =
      format::kNumColumns * format::kColumnLengthBytes +
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
    for (const Event& e : events) {
      *p++ = static_cast<uint8_t>(static_cast<uint8_t>(e.kind)
                                      << format::kApiBits |
                                  static_cast<uint8_t>(e.api));
    }
  });
  column([&] {
    uint64_t previous = 0;
    for (const Event& e : events) {
      const uint64_t t = e.time_ns / time_resolution_ns;
      p = PutVarint(p, ZigZag(static_cast<int64_t>(t - previous)));
      previous = t;
    }
  });
  column([&] {
    for (const Event& e : events) p = PutVarint(p, e.thread);
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
    for (const Event& e : events) p = PutVarint(p, e.size);
  });
  column([&] {
    for (const Event& e : events) p = PutVarint(p, e.size_class);
  });
  size_ = static_cast<size_t>(p - buffer_.data());
}

ChunkDecoder::ChunkDecoder(const SlabGeometry* geometry,
                           uint64_t time_resolution_ns)
    : geometry_(geometry),
      time_resolution_ns_(time_resolution_ns),
      last_ptr_(geometry->num_classes(), 0) {}

absl::Status ChunkDecoder::Decode(const uint8_t* data, size_t size,
                                  uint32_t count, uint64_t first_seq,
                                  uint32_t flags, Event* out) {
  if ((flags & ~format::kKnownChunkFlags) != 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("unknown chunk flags 0x%x", flags));
  }
  const int ptr_shift = (flags & format::kChunkPointersDiv8) ? 3 : 0;

  const uint8_t* begin[format::kNumColumns];
  const uint8_t* end[format::kNumColumns];
  const uint8_t* p = data;
  const uint8_t* const data_end = data + size;
  for (int c = 0; c < format::kNumColumns; ++c) {
    if (static_cast<size_t>(data_end - p) < format::kColumnLengthBytes) {
      return Malformed(absl::StrFormat("column %d length runs past the chunk", c));
    }
    const uint32_t length = GetLe32(p);
    p += format::kColumnLengthBytes;
    if (length > static_cast<size_t>(data_end - p)) {
      return Malformed(absl::StrFormat("column %d length %d runs past the chunk",
                                       c, length));
    }
    begin[c] = p;
    p += length;
    end[c] = p;
  }
  if (p != data_end) {
    return Malformed(absl::StrFormat("%d unused bytes after the columns",
                                     data_end - p));
  }
  if (static_cast<size_t>(end[format::kKindApiColumn] -
                          begin[format::kKindApiColumn]) != count) {
    return Malformed(absl::StrFormat("kind column has %d bytes for %d events",
                                     end[0] - begin[0], count));
  }

  const uint32_t num_classes = static_cast<uint32_t>(last_ptr_.size());
  std::fill(last_ptr_.begin(), last_ptr_.end(), 0);
  const uint8_t* kind_api = begin[format::kKindApiColumn];
  const uint8_t* time = begin[format::kTimeColumn];
  const uint8_t* thread = begin[format::kThreadColumn];
  const uint8_t* ptr = begin[format::kPointerColumn];
  const uint8_t* req_size = begin[format::kSizeColumn];
  const uint8_t* size_class = begin[format::kSizeClassColumn];
  uint64_t t = 0;
  for (uint32_t i = 0; i < count; ++i) {
    Event& e = out[i];
    const uint8_t ka = kind_api[i];
    const uint8_t kind = ka >> format::kApiBits;
    const uint8_t api = ka & ((1u << format::kApiBits) - 1);
    if (kind >= kNumEventKinds || api >= kNumAllocApis) {
      return Malformed(absl::StrFormat(
          "event %d: kind %d / api %d out of range", i, kind, api));
    }
    uint64_t time_delta, thread_value, ptr_delta, size_value, class_value;
    if (!GetVarint(&time, end[format::kTimeColumn], &time_delta) ||
        !GetVarint(&thread, end[format::kThreadColumn], &thread_value) ||
        !GetVarint(&ptr, end[format::kPointerColumn], &ptr_delta) ||
        !GetVarint(&req_size, end[format::kSizeColumn], &size_value) ||
        !GetVarint(&size_class, end[format::kSizeClassColumn], &class_value)) {
      return Malformed(absl::StrFormat("event %d: varint overrun", i));
    }
    if (class_value >= num_classes) {
      return Malformed(absl::StrFormat("event %d: size class %d out of range",
                                       i, class_value));
    }
    if (thread_value > std::numeric_limits<uint32_t>::max()) {
      return Malformed(absl::StrFormat("event %d: thread %d out of range", i,
                                       thread_value));
    }
    t += static_cast<uint64_t>(UnZigZag(time_delta));
    uint64_t& last = last_ptr_[class_value];
    last += static_cast<uint64_t>(UnZigZag(ptr_delta));
    e.seq = first_seq + i;
    e.time_ns = t * time_resolution_ns_;
    e.ptr = last << ptr_shift;
    e.size = size_value;
    e.thread = static_cast<uint32_t>(thread_value);
    e.size_class = static_cast<uint16_t>(class_value);
    e.kind = static_cast<EventKind>(kind);
    e.api = static_cast<AllocApi>(api);
    e.slab = geometry_->GranuleOf(e.ptr, e.size_class);
  }
  for (int c = format::kTimeColumn; c < format::kNumColumns; ++c) {
    const uint8_t* cursor[] = {kind_api + count, time, thread, ptr, req_size,
                               size_class};
    if (cursor[c] != end[c]) {
      return Malformed(absl::StrFormat(
          "column %d has %d bytes beyond its %d events", c, end[c] - cursor[c],
          count));
    }
  }
  return absl::OkStatus();
}

}  // namespace internal
}  // namespace slabtrace
