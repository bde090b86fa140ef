// ChunkEncoder against a column-by-column reference coding written from the
// format description (proto/README.md), and ChunkDecoder's batches against
// decoding a chunk whole.

#include "proto/internal/event_columns.h"

#include <algorithm>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/internal/frame.h"
#include "proto/internal/varint.h"
#include "proto/slab_geometry.h"
#include "proto/testing/test_header.h"
#include "proto/testing/trace_items.h"
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
      uint32_t max_thread = 0;
      for (uint32_t i = 0; i < n; ++i) {
        max_thread = std::max(max_thread, out[i].thread);
      }
      ASSERT_EQ(decoder.max_thread(), max_thread) << batch;
      got.insert(got.end(), out.begin(), out.begin() + n);
    }
    ASSERT_EQ(got, whole) << batch;
    for (int k = 0; k < kNumEventKinds; ++k) {
      EXPECT_EQ(counts[k], whole_counts[k]) << batch;
    }
  }
}

std::vector<Event> SlabEvents(uint64_t seed, int n, const TraceHeader& header,
                              int misfits_per_mille) {
  std::vector<Event> events;
  uint64_t seq = 0;
  for (const TraceItem& item :
       RandomSlabTraceItems(seed, n, header, misfits_per_mille)) {
    if (item.is_marker) continue;
    events.push_back(item.event);
    events.back().seq = seq++;  // a chunk's sequence numbers are dense.
  }
  return events;
}

// Decodes a chunk whole and in batches of several sizes, with the ISA
// extensions the CPU has (pext, SSSE3) and without; each must give `events`
// with the slabs the geometry derives.
void ExpectDecodesTo(const ChunkEncoder& encoder, const SlabGeometry& geometry,
                     uint64_t resolution, const std::vector<Event>& events) {
  for (bool allow_isa_extensions : {true, false}) {
    SCOPED_TRACE(allow_isa_extensions ? "ISA extensions allowed" : "none");
    ChunkDecoder decoder(&geometry, resolution, allow_isa_extensions);
    if (!allow_isa_extensions) {
      ASSERT_FALSE(decoder.uses_pext());
      ASSERT_FALSE(decoder.uses_ssse3());
    }
    // The kinds of `events`, which every batch size must count.
    uint64_t want_counts[kNumEventKinds] = {};
    for (const Event& e : events) ++want_counts[static_cast<int>(e.kind)];
    // Batches of 17 and 999 start blocks at odd events, which the packed
    // pass takes one event by itself before its groups of 16.
    for (uint32_t batch : {512u, 1u, 17u, 999u, 1000u, 1024u, 100000u}) {
      ASSERT_TRUE(decoder
                      .Start(encoder.data(), encoder.size(),
                             static_cast<uint32_t>(events.size()), 0,
                             encoder.flags())
                      .ok());
      std::vector<Event> out(batch);
      uint64_t counts[kNumEventKinds] = {};
      size_t at = 0;
      while (decoder.remaining() > 0) {
        const uint32_t before = decoder.remaining();
        const absl::Status status =
            decoder.DecodeNext(batch, out.data(), counts);
        ASSERT_TRUE(status.ok()) << status << " batch " << batch;
        uint32_t max_thread = 0;
        for (uint32_t i = 0; i < before - decoder.remaining(); ++i) {
          max_thread = std::max(max_thread, out[i].thread);
        }
        ASSERT_EQ(decoder.max_thread(), max_thread) << "batch " << batch;
        for (uint32_t i = 0; i < before - decoder.remaining(); ++i, ++at) {
          Event want = events[at];
          want.time_ns = want.time_ns / resolution * resolution;
          want.slab = geometry.GranuleOf(want.ptr, want.size_class);
          ASSERT_EQ(out[i], want) << "event " << at << " batch " << batch;
        }
      }
      ASSERT_EQ(at, events.size());
      for (int k = 0; k < kNumEventKinds; ++k) {
        ASSERT_EQ(counts[k], want_counts[k])
            << "kind " << k << " batch " << batch;
      }
    }
  }
}

// The reference coding's encoder-driven tests run with the kind and time
// columns packed (the writer's coding) and as kind bytes (traces written
// before format::kChunkPackedKinds).
class RefCodingRoundTripTest : public testing::TestWithParam<bool> {
 protected:
  bool pack_kinds() const { return GetParam(); }
  uint32_t ref_flags() const {
    return format::kChunkRefCoding |
           (pack_kinds() ? format::kChunkPackedKinds : 0);
  }
};

INSTANTIATE_TEST_SUITE_P(KindBytesAndPacked, RefCodingRoundTripTest,
                         testing::Bool(),
                         [](const testing::TestParamInfo<bool>& info) {
                           return info.param ? "Packed" : "KindBytes";
                         });

TEST_P(RefCodingRoundTripTest, RandomSlabStreamsRoundTrip) {
  const TraceHeader header = JemallocTestHeader();
  const SlabGeometry geometry = *SlabGeometry::Create(header);
  ChunkEncoder encoder(geometry, pack_kinds());
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    for (int n : {1, 2, 100, 5000, 70000}) {
      const std::vector<Event> events = SlabEvents(seed, n, header, 0);
      encoder.Encode(events, 1000);
      ASSERT_EQ(encoder.flags(), ref_flags()) << seed << " " << n;
      ExpectDecodesTo(encoder, geometry, 1000, events);
    }
  }
}

TEST_P(RefCodingRoundTripTest, UsesReferencesAndIsSmallerThanTheClassicCoding) {
  const TraceHeader header = JemallocTestHeader();
  const SlabGeometry geometry = *SlabGeometry::Create(header);
  const std::vector<Event> events = SlabEvents(3, 20000, header, 0);
  ChunkEncoder refs(geometry, pack_kinds());
  refs.Encode(events, 1000);
  ASSERT_EQ(refs.flags(), ref_flags());
  std::vector<uint64_t> sizes;
  for (const SizeClass& c : header.size_classes()) sizes.push_back(c.size());
  ChunkEncoder classic(sizes);
  classic.Encode(events, 1000);
  EXPECT_LT(refs.size(), classic.size());
  // Some frees and allocations were coded as references: their class
  // values are below the list lengths.
  const uint8_t* p = refs.data();
  std::vector<std::vector<uint8_t>> columns;
  for (int i = 0; i < format::kNumRefColumns; ++i) {
    const uint32_t length = GetLe32(p);
    columns.emplace_back(p + 4, p + 4 + length);
    p += 4 + length;
  }
  auto count_below = [](const std::vector<uint8_t>& column, uint32_t bound) {
    int below = 0;
    for (uint8_t byte : column) below += byte < bound;  // one-byte values.
    return below;
  };
  EXPECT_GT(
      count_below(columns[format::kFreeClassColumn], format::kRecentAllocs),
      1000);
  EXPECT_GT(
      count_below(columns[format::kAllocClassColumn], format::kRecentFrees),
      1000);
}

TEST_P(RefCodingRoundTripTest,
       APointerThatStartsNoRegionFallsBackToTheClassicCoding) {
  const TraceHeader header = JemallocTestHeader();
  const SlabGeometry geometry = *SlabGeometry::Create(header);
  ChunkEncoder encoder(geometry, pack_kinds());
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    const std::vector<Event> events = SlabEvents(seed, 5000, header, 20);
    encoder.Encode(events, 1000);
    EXPECT_EQ(encoder.flags() & format::kChunkRefCoding, 0u) << seed;
    ExpectDecodesTo(encoder, geometry, 1000, events);
    // The encoder is not left in a broken state: the next chunk can use
    // the reference coding again.
    const std::vector<Event> good = SlabEvents(seed, 3000, header, 0);
    encoder.Encode(good, 1000);
    EXPECT_EQ(encoder.flags(), ref_flags()) << seed;
    ExpectDecodesTo(encoder, geometry, 1000, good);
  }
  // One event is enough, and its position does not matter.
  std::vector<Event> events = SlabEvents(9, 3000, header, 0);
  for (size_t at : {size_t{0}, size_t{1500}, events.size() - 1}) {
    std::vector<Event> bad = events;
    bad[at].size_class = 21;  // 1280 bytes.
    bad[at].ptr = 0x7f0000005000 + 1280 + 8;
    encoder.Encode(bad, 1000);
    EXPECT_EQ(encoder.flags() & format::kChunkRefCoding, 0u) << at;
    ExpectDecodesTo(encoder, geometry, 1000, bad);
  }
}

// The writer codes a chunk as its batches arrive: any split of the events
// must give the bytes of one Encode() call.
TEST_P(RefCodingRoundTripTest, StreamingGivesTheBytesOfOneCall) {
  const TraceHeader header = JemallocTestHeader();
  const SlabGeometry geometry = *SlabGeometry::Create(header);
  ChunkEncoder whole(geometry, pack_kinds());
  ChunkEncoder streamed(geometry, pack_kinds());
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    const std::vector<Event> events = SlabEvents(seed, 6000, header, 0);
    whole.Encode(events, 1000);
    ASSERT_EQ(whole.flags(), ref_flags());
    const std::string want(reinterpret_cast<const char*>(whole.data()),
                           whole.size());
    for (size_t piece : {size_t{1}, size_t{7}, size_t{1024}, events.size()}) {
      streamed.StartRefs(1000, events.size());
      for (size_t at = 0; at < events.size(); at += piece) {
        const size_t n = std::min(piece, events.size() - at);
        ASSERT_EQ(streamed.AddRefs(absl::MakeConstSpan(&events[at], n)), n);
      }
      EXPECT_EQ(streamed.refs_added(), events.size());
      streamed.FinishRefs();
      EXPECT_EQ(streamed.flags(), ref_flags());
      EXPECT_EQ(std::string(reinterpret_cast<const char*>(streamed.data()),
                            streamed.size()),
                want)
          << "seed " << seed << " pieces of " << piece;
    }
  }
}

TEST_P(RefCodingRoundTripTest, StreamingStopsBeforeAPointerThatStartsNoRegion) {
  const TraceHeader header = JemallocTestHeader();
  const SlabGeometry geometry = *SlabGeometry::Create(header);
  ChunkEncoder encoder(geometry, pack_kinds());
  std::vector<Event> events = SlabEvents(11, 3000, header, 0);
  events[2000].size_class = 21;  // 1280 bytes.
  events[2000].ptr = 0x7f0000005000 + 1280 + 8;
  events[2000].kind = EventKind::kAlloc;
  encoder.StartRefs(1000, events.size());
  EXPECT_EQ(encoder.AddRefs(absl::MakeConstSpan(events).first(1500)), 1500u);
  EXPECT_EQ(encoder.AddRefs(absl::MakeConstSpan(events).subspan(1500)), 500u);
  // The chunk so far is whole: the events before the misfit.
  encoder.FinishRefs();
  ExpectDecodesTo(encoder, geometry, 1000,
                  std::vector<Event>(events.begin(), events.begin() + 2000));
  // It stops at max_events too, and a new chunk starts clean.
  encoder.StartRefs(1000, 100);
  EXPECT_EQ(encoder.AddRefs(events), 100u);
  encoder.FinishRefs();
  ExpectDecodesTo(encoder, geometry, 1000,
                  std::vector<Event>(events.begin(), events.begin() + 100));
}

// A chunk's payload: each column behind its length.
std::vector<uint8_t> ChunkOf(const std::vector<std::string>& columns) {
  std::vector<uint8_t> out;
  for (const std::string& column : columns) {
    uint8_t length[4];
    PutLe32(length, static_cast<uint32_t>(column.size()));
    out.insert(out.end(), length, length + 4);
    out.insert(out.end(), column.begin(), column.end());
  }
  return out;
}

// Columns of a reference-coded chunk of `kinds.size()` events from the
// given column contents (the time column is all zeros).
std::vector<uint8_t> RefChunk(const std::string& kinds,
                              const std::vector<std::string>& columns) {
  std::vector<std::string> all = {kinds, std::string(kinds.size(), '\0'), ""};
  all.insert(all.end(), columns.begin(), columns.end());
  return ChunkOf(all);
}

absl::Status DecodeRefChunk(const std::vector<uint8_t>& chunk, uint32_t count,
                            uint32_t flags = format::kChunkRefCoding) {
  const SlabGeometry geometry = *SlabGeometry::Create(JemallocTestHeader());
  ChunkDecoder decoder(&geometry, 1);
  std::vector<Event> out(count);
  uint64_t counts[kNumEventKinds] = {};
  return decoder.Decode(chunk.data(), chunk.size(), count, 0, flags, out.data(),
                        counts);
}

std::string Bytes(std::initializer_list<uint8_t> bytes) {
  return std::string(bytes.begin(), bytes.end());
}

TEST(RefCodingTest, MalformedValuesAreRefused) {
  const std::string alloc = Bytes({0x80});  // same thread, kAlloc, malloc.
  const std::string free = Bytes({0xa4});   // same thread, kFree, free.
  // An allocation of class 0 with an explicit pointer (class value 64 + 0).
  const std::string alloc_class = Bytes({format::kRecentFrees});
  const std::string zero = Bytes({0});
  EXPECT_TRUE(
      DecodeRefChunk(
          RefChunk(alloc, {alloc_class, zero, Bytes({10}), "", "", ""}), 1)
          .ok());
  // A reference before anything was listed.
  EXPECT_THAT(
      std::string(
          DecodeRefChunk(RefChunk(free, {"", "", "", zero, zero, ""}), 1)
              .message()),
      testing::HasSubstr("event 0: refers to recent allocation 0 of 0"));
  // A reference one past the listed allocations.
  EXPECT_THAT(
      std::string(
          DecodeRefChunk(RefChunk(alloc + free, {alloc_class, zero, Bytes({10}),
                                                 Bytes({1}), zero, ""}),
                         2)
              .message()),
      testing::HasSubstr("event 1: refers to recent allocation 1 of 1"));
  // ... and the one listed.
  EXPECT_TRUE(
      DecodeRefChunk(RefChunk(alloc + free,
                              {alloc_class, zero, Bytes({10}), zero, zero, ""}),
                     2)
          .ok());
  // A class beyond the table (32 + 200).
  EXPECT_THAT(
      std::string(
          DecodeRefChunk(
              RefChunk(free, {"", "", "", Bytes({0xe8, 0x01}), zero, zero}), 1)
              .message()),
      testing::HasSubstr("event 0: size class 200 out of range"));
  // No pointer for an explicit class.
  EXPECT_THAT(
      std::string(DecodeRefChunk(
                      RefChunk(alloc, {alloc_class, zero, "", "", "", ""}), 1)
                      .message()),
      testing::HasSubstr("event 0: varint overrun"));
  // An index whose slab page does not fit in 64 bits (class 0: 512
  // regions per 4 KiB slab, so indices below 2^61): zigzag(2^62).
  const std::string huge =
      Bytes({0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01});
  EXPECT_THAT(
      std::string(DecodeRefChunk(
                      RefChunk(alloc, {alloc_class, zero, huge, "", "", ""}), 1)
                      .message()),
      testing::HasSubstr("event 0: slab-region index"));
  // Pointer scaling belongs to the classic coding.
  EXPECT_THAT(
      std::string(
          DecodeRefChunk(
              RefChunk(alloc, {alloc_class, zero, Bytes({10}), "", "", ""}), 1,
              format::kChunkRefCoding | format::kChunkPointersDiv8)
              .message()),
      testing::HasSubstr("pointer scaling"));
  // Bytes left over in a column.
  EXPECT_THAT(
      std::string(DecodeRefChunk(RefChunk(alloc, {alloc_class, zero,
                                                  Bytes({10, 0}), "", "", ""}),
                                 1)
                      .message()),
      testing::HasSubstr("column 5 has 1 bytes beyond its 1 events"));
}

// The same malformed values inside long columns, where the decoder's fast
// loop reads them: the first one is named as by the checked loop.
TEST(RefCodingTest, MalformedValuesInsideLongColumns) {
  constexpr int kEvents = 1000;
  const std::string allocs(kEvents, '\x80');
  const std::string classes(kEvents,
                            static_cast<char>(format::kRecentFrees + 21));
  const std::string sizes(kEvents, '\0');
  const std::string deltas(kEvents, '\x02');  // +1 region each.
  EXPECT_TRUE(
      DecodeRefChunk(RefChunk(allocs, {classes, sizes, deltas, "", "", ""}),
                     kEvents)
          .ok());
  const std::string bad_class = classes.substr(0, 700) +
                                Bytes({0x88, 0x02}) +  // 264 = 64 + 200.
                                classes.substr(701);
  EXPECT_THAT(std::string(DecodeRefChunk(RefChunk(allocs, {bad_class, sizes,
                                                           deltas, "", "", ""}),
                                         kEvents)
                              .message()),
              testing::HasSubstr("event 700: size class 200 out of range"));
  std::string bad_ref = bad_class;
  bad_ref[600] = '\x05';  // the sixth-last free: there is none.
  EXPECT_THAT(std::string(DecodeRefChunk(RefChunk(allocs, {bad_ref, sizes,
                                                           deltas, "", "", ""}),
                                         kEvents)
                              .message()),
              testing::HasSubstr("event 600: refers to recent free 5 of 0"));
}

// Within a block the first error named is the block's first bad kind, then
// its first bad time, then its first bad thread, whatever their order in
// the block (the order decoding the chunk whole gives; a decoder that fuses
// these columns must keep it).
TEST(RefCodingTest, KindTimeAndThreadErrorsAreNamedInColumnOrder) {
  constexpr int kEvents = 1000;  // two blocks.
  const std::string classes(kEvents,
                            static_cast<char>(format::kRecentFrees + 21));
  const std::string sizes(kEvents, '\0');
  const std::string deltas(kEvents, '\x02');
  const std::string times(kEvents, '\x02');  // +1 each.
  uint8_t buffer[kMaxVarintBytes];
  const std::string too_wide(reinterpret_cast<const char*>(buffer),
                             PutVarint(buffer, uint64_t{1} << 33) - buffer);
  auto chunk = [&](const std::string& kinds, const std::string& time,
                   const std::string& thread) {
    std::vector<uint8_t> out;
    for (const std::string& column :
         {kinds, time, thread, classes, sizes, deltas, std::string(),
          std::string(), std::string()}) {
      uint8_t length[4];
      PutLe32(length, static_cast<uint32_t>(column.size()));
      out.insert(out.end(), length, length + 4);
      out.insert(out.end(), column.begin(), column.end());
    }
    return out;
  };
  auto error = [&](const std::string& kinds, const std::string& time,
                   const std::string& thread) {
    return std::string(
        DecodeRefChunk(chunk(kinds, time, thread), kEvents).message());
  };
  std::string kinds(kEvents, '\x80');  // same thread, kAlloc, malloc.
  kinds[0] = '\x00';                   // thread 7 from the first event.
  kinds[600] = '\x00';                 // back to thread 0.
  const std::string threads = Bytes({7, 0});
  EXPECT_TRUE(DecodeRefChunk(chunk(kinds, times, threads), kEvents).ok());

  std::string bad_thread = kinds;
  bad_thread[10] = '\x00';
  const std::string threads_bad = Bytes({7}) + too_wide + Bytes({0});
  EXPECT_THAT(error(bad_thread, times, threads_bad),
              testing::HasSubstr("event 10: thread 8589934592 out of range"));
  // A time running out later in the block comes first ...
  EXPECT_THAT(error(bad_thread, times.substr(0, 300), threads_bad),
              testing::HasSubstr("event 300: varint overrun"));
  // ... and a bad kind later in the block before both.
  std::string bad_kind = bad_thread;
  bad_kind[400] = '\xe0';  // kind 3.
  EXPECT_THAT(error(bad_kind, times.substr(0, 300), threads_bad),
              testing::HasSubstr("event 400: kind 3 / api 0 out of range"));
  // The same in the second block, after a first block that decodes.
  std::string late = kinds;
  late[520] = '\x00';
  late[900] = '\xe0';
  const std::string threads_late = Bytes({7}) + too_wide + Bytes({0});
  EXPECT_THAT(error(late, times, threads_late),
              testing::HasSubstr("event 900: kind 3 / api 0 out of range"));
  late[900] = '\x80';
  EXPECT_THAT(error(late, times, threads_late),
              testing::HasSubstr("event 520: thread 8589934592 out of range"));
  // A thread column that runs out.
  EXPECT_THAT(error(kinds, times, Bytes({7})),
              testing::HasSubstr("event 600: varint overrun"));
}

// Corrupted reference-coded columns (what a fuzz build, which skips the
// CRC, feeds the decoder): every outcome is a decoded chunk or an error,
// never a read outside the columns (the ASan build checks that), and a
// chunk that decodes gives the same events whole and in batches.
TEST_P(RefCodingRoundTripTest, CorruptedColumnsDecodeOrFailCleanly) {
  const TraceHeader header = JemallocTestHeader();
  const SlabGeometry geometry = *SlabGeometry::Create(header);
  const std::vector<Event> events = SlabEvents(5, 3000, header, 0);
  ChunkEncoder encoder(geometry, pack_kinds());
  encoder.Encode(events, 1000);
  ASSERT_EQ(encoder.flags(), ref_flags());
  const std::vector<uint8_t> good(encoder.data(),
                                  encoder.data() + encoder.size());
  std::mt19937_64 rng(17);
  ChunkDecoder decoder(&geometry, 1000);
  ChunkDecoder plain_decoder(&geometry, 1000, /*allow_isa_extensions=*/false);
  std::vector<Event> whole(events.size());
  std::vector<Event> plain(events.size());
  std::vector<Event> batch(512);
  int failed = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    // Bytes copied into a buffer of exactly the chunk's size, so that a
    // read past it is a heap overflow.
    std::vector<uint8_t> bad = good;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      bad[rng() % bad.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
    }
    uint64_t counts[kNumEventKinds] = {};
    const absl::Status status = decoder.Decode(
        bad.data(), bad.size(), static_cast<uint32_t>(events.size()), 0,
        ref_flags(), whole.data(), counts);
    // Without ISA extensions: the same outcome, event for event.
    uint64_t plain_counts[kNumEventKinds] = {};
    const absl::Status plain_status = plain_decoder.Decode(
        bad.data(), bad.size(), static_cast<uint32_t>(events.size()), 0,
        ref_flags(), plain.data(), plain_counts);
    ASSERT_EQ(status, plain_status) << trial;
    if (status.ok()) {
      ASSERT_EQ(plain, whole) << trial;
      for (int k = 0; k < kNumEventKinds; ++k) {
        ASSERT_EQ(counts[k], plain_counts[k]) << trial << " kind " << k;
      }
    }
    if (!status.ok()) {
      ++failed;
      EXPECT_THAT(std::string(status.message()),
                  testing::HasSubstr("malformed"));
      continue;
    }
    ASSERT_TRUE(decoder
                    .Start(bad.data(), bad.size(),
                           static_cast<uint32_t>(events.size()), 0, ref_flags())
                    .ok());
    size_t at = 0;
    while (decoder.remaining() > 0) {
      const uint32_t before = decoder.remaining();
      ASSERT_TRUE(decoder.DecodeNext(512, batch.data(), counts).ok());
      for (uint32_t i = 0; i < before - decoder.remaining(); ++i, ++at) {
        ASSERT_EQ(batch[i], whole[at]) << trial;
        // Whatever the bytes said, the slab is the pointer's.
        ASSERT_EQ(whole[at].slab,
                  geometry.GranuleOf(whole[at].ptr, whole[at].size_class))
            << trial;
      }
    }
  }
  EXPECT_GT(failed, 0);
}

std::vector<std::vector<uint8_t>> SplitColumns(const uint8_t* p, size_t size) {
  std::vector<std::vector<uint8_t>> columns;
  const uint8_t* const end = p + size;
  while (p < end) {
    const uint32_t length = GetLe32(p);
    columns.emplace_back(p + 4, p + 4 + length);
    p += 4 + length;
  }
  return columns;
}

// Events of SlabEvents with every api, frequent thread changes and times
// that move on a quarter of the events, so that a chunk has more than 15
// symbols and some escape.
std::vector<Event> ManySymbolEvents(uint64_t seed, int n,
                                    const TraceHeader& header) {
  std::vector<Event> events = SlabEvents(seed, n, header, 0);
  std::mt19937_64 rng(seed);
  uint64_t time = 0;
  for (Event& e : events) {
    e.api = static_cast<AllocApi>(rng() % 4 == 0 ? rng() % kNumAllocApis : 0);
    e.thread = rng() % 16 == 0 ? static_cast<uint32_t>(rng() % 3) : 0;
    time += rng() % 4 == 0 ? rng() % (rng() % 2 ? 100 : 10000000) : 0;
    e.time_ns = time;
  }
  return events;
}

// The packed kind, time, table and escape columns, written one by one from
// the format description; the other columns are those of the kind-byte
// coding.
TEST(PackedKindsTest, MatchesTheFormatDescription) {
  const TraceHeader header = JemallocTestHeader();
  const SlabGeometry geometry = *SlabGeometry::Create(header);
  ChunkEncoder packed(geometry, /*pack_kinds=*/true);
  ChunkEncoder bytes(geometry, /*pack_kinds=*/false);
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    for (int n : {1, 2, 3, 4001}) {
      const std::vector<Event> events = ManySymbolEvents(seed, n, header);
      packed.Encode(events, 1000);
      bytes.Encode(events, 1000);
      ASSERT_EQ(packed.flags(),
                format::kChunkRefCoding | format::kChunkPackedKinds);
      const auto got = SplitColumns(packed.data(), packed.size());
      const auto kind_bytes = SplitColumns(bytes.data(), bytes.size());
      ASSERT_EQ(got.size(), size_t{format::kNumPackedColumns});
      for (int c = format::kRefThreadColumn; c < format::kNumRefColumns; ++c) {
        EXPECT_EQ(got[c], kind_bytes[c]) << "column " << c;
      }
      // Symbols: kind byte | timed << 8, timed when the delta is not 0.
      std::vector<int> symbols;
      std::vector<uint8_t> times;
      uint8_t buffer[kMaxVarintBytes];
      uint64_t previous = 0;
      for (size_t i = 0; i < events.size(); ++i) {
        const uint64_t t = events[i].time_ns / 1000;
        const uint64_t delta = ZigZag(static_cast<int64_t>(t - previous));
        previous = t;
        symbols.push_back(kind_bytes[format::kRefKindApiColumn][i] |
                          (delta != 0 ? 0x100 : 0));
        if (delta != 0) {
          times.insert(times.end(), buffer, PutVarint(buffer, delta));
        }
      }
      EXPECT_EQ(got[format::kSparseTimeColumn], times);
      // The table: the most frequent symbols, ties to the smaller one.
      std::vector<std::pair<int, int>> ranked;  // (-count, symbol)
      for (int symbol = 0; symbol < 512; ++symbol) {
        const int count = static_cast<int>(
            std::count(symbols.begin(), symbols.end(), symbol));
        if (count > 0) ranked.push_back({-count, symbol});
      }
      std::sort(ranked.begin(), ranked.end());
      ranked.resize(std::min<size_t>(ranked.size(), 15));
      std::vector<uint8_t> table;
      for (const auto& [count, symbol] : ranked) {
        table.push_back(static_cast<uint8_t>(symbol & 0xff));
        table.push_back(static_cast<uint8_t>(symbol >> 8));
      }
      EXPECT_EQ(got[format::kKindTableColumn], table);
      std::vector<uint8_t> codes((events.size() + 1) / 2, 0);
      std::vector<uint8_t> escapes;
      for (size_t i = 0; i < symbols.size(); ++i) {
        int code = format::kEscapeCode;
        for (size_t k = 0; k < ranked.size(); ++k) {
          if (ranked[k].second == symbols[i]) code = static_cast<int>(k);
        }
        codes[i / 2] |= static_cast<uint8_t>(code << (4 * (i % 2)));
        if (code == format::kEscapeCode) {
          escapes.insert(escapes.end(), buffer,
                         PutVarint(buffer, static_cast<uint64_t>(symbols[i])));
        }
      }
      EXPECT_EQ(got[format::kKindCodeColumn], codes);
      EXPECT_EQ(got[format::kKindEscapeColumn], escapes);
      if (n == 4001) {
        EXPECT_EQ(ranked.size(), 15u);
        EXPECT_FALSE(escapes.empty());
      }
      ExpectDecodesTo(packed, geometry, 1000, events);
    }
  }
}

constexpr uint32_t kPackedFlags =
    format::kChunkRefCoding | format::kChunkPackedKinds;

// The SSSE3 pass decodes groups of 16 events with no escape, no thread
// change and only one-byte time deltas, and hands every other group to the
// event-by-event pass. Streams where each of those comes once in
// `one_in` events put them at every place in a group, at every rate from
// a slow group now and then to slow groups only; each must decode as it
// does without SSSE3 (ExpectDecodesTo decodes both ways).
TEST(PackedKindsTest, GroupsOf16DecodeAsSingleEvents) {
  const TraceHeader header = JemallocTestHeader();
  const SlabGeometry geometry = *SlabGeometry::Create(header);
#if defined(__x86_64__)
  ASSERT_TRUE(ChunkDecoder(&geometry, 1000).uses_ssse3());
#endif
  ChunkEncoder encoder(geometry, /*pack_kinds=*/true);
  for (int one_in : {8, 64, 500, 1 << 30}) {
    SCOPED_TRACE(absl::StrCat("one in ", one_in));
    for (uint64_t seed = 1; seed <= 3; ++seed) {
      std::vector<Event> events = SlabEvents(seed, 5000, header, 0);
      std::mt19937_64 rng(seed);
      const auto rare = [&] { return rng() % one_in == 0; };
      uint64_t time = 0;
      uint32_t thread = 0;
      for (Event& e : events) {
        // Two common apis: their symbols (kind, api, timed) fill 12 of the
        // table's 15 entries, and a rare api's escape.
        e.api = static_cast<AllocApi>(rare() ? 4 + rng() % (kNumAllocApis - 4)
                                             : rng() % 2);
        if (rare()) thread = static_cast<uint32_t>(rng() % 5);
        e.thread = thread;
        time += rare()           ? 1000 * (100 + rng() % 100000)
                : rng() % 3 == 0 ? 1000 * (rng() % 60)
                                 : 0;
        e.time_ns = time;
      }
      encoder.Encode(events, 1000);
      ASSERT_EQ(encoder.flags(), kPackedFlags);
      ExpectDecodesTo(encoder, geometry, 1000, events);
    }
  }
}

TEST(PackedKindsTest, MalformedColumnsAreRefused) {
  // One allocation of class 0 with an explicit pointer; `codes`, `time`
  // and `escapes` vary, the table has an untimed and a timed allocation.
  const std::string table = Bytes({0x80, 0, 0x80, 1});
  auto chunk = [&](const std::string& codes, const std::string& time,
                   const std::string& kind_table = Bytes({0x80, 0, 0x80, 1}),
                   const std::string& escapes = "") {
    return ChunkOf({codes, time, "", Bytes({format::kRecentFrees}), Bytes({0}),
                    Bytes({10}), "", "", "", kind_table, escapes});
  };
  auto error = [&](const std::vector<uint8_t>& bytes,
                   uint32_t flags = kPackedFlags) {
    return std::string(DecodeRefChunk(bytes, 1, flags).message());
  };
  EXPECT_TRUE(DecodeRefChunk(chunk(Bytes({0}), ""), 1, kPackedFlags).ok());
  EXPECT_TRUE(
      DecodeRefChunk(chunk(Bytes({1}), Bytes({2})), 1, kPackedFlags).ok());
  EXPECT_TRUE(DecodeRefChunk(chunk(Bytes({15}), Bytes({2}), table,
                                   Bytes({0x80, 0x03})),  // 0x180.
                             1, kPackedFlags)
                  .ok());
  EXPECT_THAT(error(chunk(Bytes({0}), ""), format::kChunkPackedKinds),
              testing::HasSubstr("packed kinds without the reference coding"));
  EXPECT_THAT(error(chunk(Bytes({0, 0}), "")),
              testing::HasSubstr("kind column has 2 bytes for 1 events"));
  EXPECT_THAT(error(chunk(Bytes({0x10}), "")),
              testing::HasSubstr("the last byte's unused half is not 0"));
  EXPECT_THAT(error(chunk(Bytes({2}), "")),
              testing::HasSubstr("event 0: kind code 2 is not in the kind "
                                 "table"));
  EXPECT_THAT(error(chunk(Bytes({0}), "", Bytes({0x80, 0, 0x80}))),
              testing::HasSubstr("kind table of 3 bytes"));
  EXPECT_THAT(error(chunk(Bytes({0}), "", std::string(32, '\0'))),
              testing::HasSubstr("kind table of 32 bytes"));
  EXPECT_THAT(error(chunk(Bytes({0}), "", Bytes({0xe0, 0}))),
              testing::HasSubstr("kind table entry 0 (kind byte 0xe0, timed 0) "
                                 "out of range"));
  EXPECT_THAT(error(chunk(Bytes({0}), "", Bytes({0x80, 2}))),
              testing::HasSubstr("kind table entry 0 (kind byte 0x80, timed 2) "
                                 "out of range"));
  // A timed event without a time.
  EXPECT_THAT(error(chunk(Bytes({1}), "")),
              testing::HasSubstr("event 0: varint overrun"));
  // Escapes: missing, out of range (kind 3; above 2^9), left over.
  EXPECT_THAT(error(chunk(Bytes({15}), "")),
              testing::HasSubstr("event 0: varint overrun"));
  EXPECT_THAT(error(chunk(Bytes({15}), "", table, Bytes({0xe0, 0x01}))),
              testing::HasSubstr("event 0: escaped kind symbol 0xe0 out of "
                                 "range"));
  EXPECT_THAT(error(chunk(Bytes({15}), "", table, Bytes({0x80, 0x04}))),
              testing::HasSubstr("event 0: escaped kind symbol 0x200 out of "
                                 "range"));
  EXPECT_THAT(error(chunk(Bytes({0}), "", table, Bytes({0}))),
              testing::HasSubstr("column 10 has 1 bytes beyond its 1 events"));
  // A time nobody reads.
  EXPECT_THAT(error(chunk(Bytes({0}), Bytes({2}))),
              testing::HasSubstr("column 1 has 1 bytes beyond its 1 events"));
}

// In long columns, the first bad code, escape or time is named by its
// event, in any block and whatever the batch.
TEST(PackedKindsTest, ErrorsInsideLongColumnsNameTheirEvent) {
  constexpr int kEvents = 1001;  // two blocks, an odd count.
  const std::string classes(kEvents,
                            static_cast<char>(format::kRecentFrees + 21));
  const std::string sizes(kEvents, '\0');
  const std::string deltas(kEvents, '\x02');
  const std::string table = Bytes({0x80, 0, 0x80, 1});
  auto chunk = [&](const std::string& codes, const std::string& time,
                   const std::string& escapes) {
    return ChunkOf(
        {codes, time, "", classes, sizes, deltas, "", "", "", table, escapes});
  };
  // Codes 0 (untimed) and 1 (timed) alternate: 501 timed events.
  std::string codes((kEvents + 1) / 2, '\x10');
  codes.back() = '\0';
  const std::string times(kEvents / 2, '\x02');
  const SlabGeometry geometry = *SlabGeometry::Create(JemallocTestHeader());
  ChunkDecoder decoder(&geometry, 1);
  std::vector<Event> out(kEvents);
  uint64_t counts[kNumEventKinds] = {};
  auto error = [&](const std::vector<uint8_t>& bytes, uint32_t batch) {
    EXPECT_TRUE(
        decoder.Start(bytes.data(), bytes.size(), kEvents, 0, kPackedFlags)
            .ok());
    absl::Status status;
    while (status.ok() && decoder.remaining() > 0) {
      status = decoder.DecodeNext(batch, out.data(), counts);
    }
    return std::string(status.message());
  };
  for (uint32_t batch : {1u, 512u, 1000u, uint32_t{kEvents}}) {
    EXPECT_EQ(error(chunk(codes, times, ""), batch), "") << batch;
    EXPECT_EQ(
        out[kEvents % batch == 0 ? batch - 1 : kEvents % batch - 1].time_ns,
        uint64_t{kEvents / 2})
        << batch;
    std::string bad = codes;
    bad[350] = '\x12';  // event 700: code 2.
    EXPECT_THAT(error(chunk(bad, times, ""), batch),
                testing::HasSubstr("event 700: kind code 2 is not in the kind "
                                   "table"))
        << batch;
    bad[350] = '\xf0';  // event 701 escaped, nothing in the escapes.
    EXPECT_THAT(error(chunk(bad, times, ""), batch),
                testing::HasSubstr("event 701: varint overrun"))
        << batch;
    EXPECT_THAT(error(chunk(codes, times.substr(0, 300), ""), batch),
                testing::HasSubstr("event 601: varint overrun"))
        << batch;
  }
}

}  // namespace
}  // namespace internal
}  // namespace slabtrace
