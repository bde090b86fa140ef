// ChunkEncoder against a column-by-column reference coding written from the
// format description (proto/README.md), and ChunkDecoder's batches against
// decoding a chunk whole.

#include "proto/internal/event_columns.h"

#include <algorithm>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "proto/internal/frame.h"
#include "proto/internal/varint.h"
#include "proto/slab_geometry.h"
#include "proto/testing/test_header.h"
#include "proto/trace_format.h"

namespace slabtrace {
namespace internal {
namespace {

std::vector<uint64_t> ClassSizes(const TraceHeader& header) {
  std::vector<uint64_t> sizes;
  for (const SizeClass& c : header.size_classes()) sizes.push_back(c.size());
  return sizes;
}

// The columns exactly as the format describes them, one pass per column.
std::vector<uint8_t> ReferenceColumns(const std::vector<Event>& events,
                                      const std::vector<uint64_t>& class_sizes,
                                      uint64_t resolution, uint32_t* flags) {
  bool aligned = true;
  for (const Event& e : events) aligned &= (e.ptr & 7) == 0;
  *flags = aligned ? format::kChunkPointersDiv8 : 0;
  const int shift = aligned ? 3 : 0;
  std::vector<std::vector<uint8_t>> columns(format::kNumColumns);
  uint8_t buffer[kMaxVarintBytes];
  auto put = [&](int column, uint64_t v) {
    const uint8_t* const end = PutVarint(buffer, v);
    columns[column].insert(columns[column].end(),
                           static_cast<const uint8_t*>(buffer), end);
  };
  uint32_t thread = 0;
  uint64_t time = 0;
  std::vector<uint64_t> last_ptr(class_sizes.size(), 0);
  for (const Event& e : events) {
    const bool same = e.thread == thread;
    columns[format::kKindApiColumn].push_back(
        static_cast<uint8_t>((same ? format::kSameThreadBit : 0) |
                             static_cast<int>(e.kind) << format::kApiBits |
                             static_cast<int>(e.api)));
    const uint64_t t = e.time_ns / resolution;
    put(format::kTimeColumn, ZigZag(static_cast<int64_t>(t - time)));
    time = t;
    if (!same) put(format::kThreadColumn, e.thread);
    thread = e.thread;
    const uint64_t scaled = e.ptr >> shift;
    put(format::kPointerColumn,
        ZigZag(static_cast<int64_t>(scaled - last_ptr[e.size_class])));
    last_ptr[e.size_class] = scaled;
    put(format::kSizeColumn,
        e.kind == EventKind::kFree
            ? e.size
            : ZigZag(static_cast<int64_t>(class_sizes[e.size_class] - e.size)));
    put(format::kSizeClassColumn, e.size_class);
  }
  std::vector<uint8_t> out;
  for (const std::vector<uint8_t>& column : columns) {
    uint8_t length[format::kColumnLengthBytes];
    PutLe32(length, static_cast<uint32_t>(column.size()));
    out.insert(out.end(), length, length + sizeof(length));
    out.insert(out.end(), column.begin(), column.end());
  }
  return out;
}

// Random events whose pointer deltas take every varint length, 1 to 10
// bytes (the encoder writes those below 2^56 without a length branch).
std::vector<Event> RandomEvents(uint64_t seed, int n, int num_classes,
                                bool aligned) {
  std::mt19937_64 rng(seed);
  std::vector<Event> events(n);
  uint64_t time = 0;
  for (int i = 0; i < n; ++i) {
    Event& e = events[i];
    e.seq = i;
    time += (rng() % 4 == 0) ? rng() % 100000 : 0;
    e.time_ns = time;
    e.kind = static_cast<EventKind>(rng() % kNumEventKinds);
    e.api = static_cast<AllocApi>(rng() % kNumAllocApis);
    e.thread = rng() % 8 == 0 ? static_cast<uint32_t>(rng()) : 3;
    e.size_class = static_cast<uint16_t>(rng() % num_classes);
    e.ptr = rng() >> (rng() % 64);
    if (aligned) e.ptr &= ~uint64_t{7};
    e.size = rng() >> (rng() % 64);
  }
  return events;
}

TEST(ChunkEncoderTest, MatchesTheReferenceColumnCoding) {
  const TraceHeader header = JemallocTestHeader();
  const std::vector<uint64_t> sizes = ClassSizes(header);
  ChunkEncoder encoder(sizes);
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    for (uint64_t resolution : {uint64_t{1}, uint64_t{1000}, uint64_t{333}}) {
      const std::vector<Event> events = RandomEvents(
          seed, 3000 + 17 * static_cast<int>(seed),
          static_cast<int>(sizes.size()), /*aligned=*/seed % 2 == 0);
      uint32_t flags = 0;
      const std::vector<uint8_t> expected =
          ReferenceColumns(events, sizes, resolution, &flags);
      encoder.Encode(events, resolution);
      ASSERT_EQ(
          std::vector<uint8_t>(encoder.data(), encoder.data() + encoder.size()),
          expected)
          << seed << " " << resolution;
      EXPECT_EQ(encoder.flags(), flags);
      // The writer's form, with the OR of the pointers given.
      uint64_t bits = 0;
      for (const Event& e : events) bits |= e.ptr;
      encoder.Encode(events, resolution, bits);
      ASSERT_EQ(
          std::vector<uint8_t>(encoder.data(), encoder.data() + encoder.size()),
          expected)
          << seed << " " << resolution;
    }
  }
}

TEST(ChunkDecoderTest, BatchesGiveTheSameEventsAsTheWholeChunk) {
  const TraceHeader header = JemallocTestHeader();
  const SlabGeometry geometry = *SlabGeometry::Create(header);
  const std::vector<uint64_t> sizes = ClassSizes(header);
  const std::vector<Event> events =
      RandomEvents(7, 5000, static_cast<int>(sizes.size()), /*aligned=*/true);
  ChunkEncoder encoder(sizes);
  encoder.Encode(events, 1);
  ChunkDecoder decoder(&geometry, 1);
  std::vector<Event> whole(events.size());
  uint64_t whole_counts[kNumEventKinds] = {};
  ASSERT_TRUE(decoder
                  .Decode(encoder.data(), encoder.size(),
                          static_cast<uint32_t>(events.size()), 100,
                          encoder.flags(), whole.data(), whole_counts)
                  .ok());
  for (size_t i = 0; i < events.size(); ++i) {
    Event want = events[i];
    want.seq = 100 + i;
    want.slab = geometry.GranuleOf(want.ptr, want.size_class);
    ASSERT_EQ(whole[i], want) << i;
  }
  for (uint32_t batch : {1u, 512u, 1000u, 1024u, 4999u, 5000u, 9999u}) {
    ASSERT_TRUE(decoder
                    .Start(encoder.data(), encoder.size(),
                           static_cast<uint32_t>(events.size()), 100,
                           encoder.flags())
                    .ok());
    std::vector<Event> got;
    std::vector<Event> out(batch);
    uint64_t counts[kNumEventKinds] = {};
    while (decoder.remaining() > 0) {
      const uint32_t before = decoder.remaining();
      ASSERT_TRUE(decoder.DecodeNext(batch, out.data(), counts).ok()) << batch;
      const uint32_t n = before - decoder.remaining();
      ASSERT_EQ(n, std::min(batch, before));
      got.insert(got.end(), out.begin(), out.begin() + n);
    }
    ASSERT_EQ(got, whole) << batch;
    for (int k = 0; k < kNumEventKinds; ++k) {
      EXPECT_EQ(counts[k], whole_counts[k]) << batch;
    }
  }
}

}  // namespace
}  // namespace internal
}  // namespace slabtrace
