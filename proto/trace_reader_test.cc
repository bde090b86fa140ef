// Robustness of TraceReader: truncation at every byte, every single-byte
// flip, and the wording of each error and warning.

#include "proto/trace_reader.h"

#include <zstd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/stubs/logging.h"
#include "gtest/gtest.h"
#include "proto/internal/crc32c.h"
#include "proto/internal/frame.h"
#include "proto/testing/test_header.h"
#include "proto/testing/trace_items.h"
#include "proto/trace_format.h"

namespace slabtrace {
namespace {

using ::testing::HasSubstr;

// A small trace: a few hundred events in 4+ chunks with markers between.
struct SmallTrace {
  std::vector<TraceItem> items;
  std::string bytes;
  // After each record: (file offset where it ends, items read so far).
  std::vector<std::pair<uint64_t, size_t>> record_ends;
  uint64_t header_end = 0;
};

const SmallTrace& GetSmallTrace() {
  static const SmallTrace* trace = [] {
    auto* t = new SmallTrace;
    const TraceHeader header = JemallocTestHeader();
    t->items = RandomTraceItems(/*seed=*/99, /*num_events=*/300, header);
    TraceWriterOptions options;
    options.events_per_chunk = 80;
    t->bytes = *WriteTrace(t->items, header, options);
    auto reader = *TraceReader::OpenBuffer("small.slabtrace", t->bytes);
    t->header_end = reader->bytes_read();
    TraceRecord record;
    size_t items = 0;
    while (*reader->Next(&record)) {
      items +=
          record.type == TraceRecord::Type::kMarker ? 1 : record.events.size();
      t->record_ends.push_back({reader->bytes_read(), items});
    }
    return t;
  }();
  return *trace;
}

TEST(TraceReaderTest, SmallTraceHasSeveralChunksAndMarkers) {
  const SmallTrace& t = GetSmallTrace();
  auto reader = *TraceReader::OpenBuffer("small.slabtrace", t.bytes);
  auto items = ReadAllItems(reader.get());
  ASSERT_TRUE(items.ok());
  EXPECT_GE(reader->chunks_read(), 4u);
  int markers = 0;
  for (const TraceItem& item : t.items) markers += item.is_marker;
  EXPECT_GE(markers, 2);
  EXPECT_LT(t.bytes.size(), 20000u);
}

TEST(TraceReaderTest, TruncationAtEveryByteReadsTheWholeRecordsBefore) {
  const SmallTrace& t = GetSmallTrace();
  for (size_t cut = 0; cut < t.bytes.size(); ++cut) {
    const absl::string_view prefix(t.bytes.data(), cut);
    auto reader = TraceReader::OpenBuffer("cut.slabtrace", prefix);
    if (cut < t.header_end) {
      ASSERT_FALSE(reader.ok()) << cut;
      ASSERT_THAT(std::string(reader.status().message()),
                  HasSubstr("cut.slabtrace: offset "))
          << cut;
      continue;
    }
    ASSERT_TRUE(reader.ok()) << cut << ": " << reader.status();
    // A cut file has no footer: no trailer before the end either.
    ASSERT_FALSE((*reader)->early_trailer().has_value()) << cut;
    auto items = ReadAllItems(reader->get());
    ASSERT_TRUE(items.ok()) << cut << ": " << items.status();
    size_t whole = 0;
    for (const auto& [end, count] : t.record_ends) {
      if (end <= cut) whole = count;
    }
    ASSERT_EQ(items->size(), whole) << cut;
    for (size_t i = 0; i < whole; ++i) {
      ASSERT_TRUE((*items)[i] == t.items[i]) << cut << " item " << i;
    }
    ASSERT_FALSE((*reader)->warnings().empty()) << cut;
    const std::string& warning = (*reader)->warnings().front();
    ASSERT_THAT(warning, HasSubstr("cut.slabtrace: offset ")) << cut;
    ASSERT_TRUE(absl::StrContains(warning, "without a trailer") ||
                absl::StrContains(warning, "footer"))
        << cut << ": " << warning;
  }
}

TEST(TraceReaderTest, EverySingleByteFlipIsDetectedOrHarmless) {
  const SmallTrace& t = GetSmallTrace();
  int detected = 0;
  for (size_t at = 0; at < t.bytes.size(); ++at) {
    for (uint8_t mask : {0x01, 0x20, 0xff}) {
      std::string bytes = t.bytes;
      bytes[at] = static_cast<char>(bytes[at] ^ mask);
      auto reader = TraceReader::OpenBuffer("flip.slabtrace", bytes);
      absl::Status status = reader.status();
      absl::StatusOr<std::vector<TraceItem>> items;
      if (reader.ok()) {
        items = ReadAllItems(reader->get());
        status = items.status();
      }
      if (!status.ok()) {
        ASSERT_THAT(std::string(status.message()),
                    HasSubstr("flip.slabtrace: offset "))
            << at;
        ++detected;
        continue;
      }
      // Undetected: the result must be exactly the original.
      ASSERT_EQ(items->size(), t.items.size()) << at;
      for (size_t i = 0; i < items->size(); ++i) {
        ASSERT_TRUE((*items)[i] == t.items[i]) << at << " item " << i;
      }
      ASSERT_TRUE((*reader)->trailer().has_value()) << at;
    }
  }
  EXPECT_EQ(detected, 3 * static_cast<int>(t.bytes.size()));
}

// --- Error wording -------------------------------------------------------

std::string Frame(uint8_t type, const std::string& fields,
                  const std::string& payload) {
  std::string record(format::kFrameBytes, '\0');
  record[0] = static_cast<char>(type);
  internal::PutLe32(reinterpret_cast<uint8_t*>(&record[1]),
                    static_cast<uint32_t>(payload.size()));
  record += fields;
  record += payload;
  uint8_t crc[4];
  internal::PutLe32(crc, internal::Crc32c(record.data(), record.size()));
  record.append(reinterpret_cast<char*>(crc), 4);
  return record;
}

std::string HeaderFile(const TraceHeader& header) {
  return std::string(format::kMagic, format::kMagicBytes) +
         Frame(format::kHeaderRecord, "", header.SerializeAsString());
}

std::string ChunkFields(uint32_t uncompressed, uint32_t count,
                        uint64_t first_seq, uint32_t flags) {
  std::string fields(format::kChunkFieldsBytes, '\0');
  auto* p = reinterpret_cast<uint8_t*>(&fields[0]);
  internal::PutLe32(p, uncompressed);
  internal::PutLe32(p + 4, count);
  internal::PutLe64(p + 8, first_seq);
  internal::PutLe32(p + 16, flags);
  return fields;
}

// A chunk record whose columns are given raw (before zstd).
std::string ChunkRecord(const std::vector<std::string>& columns, uint32_t count,
                        uint64_t first_seq = 0) {
  std::string raw;
  for (const std::string& column : columns) {
    uint8_t length[4];
    internal::PutLe32(length, static_cast<uint32_t>(column.size()));
    raw.append(reinterpret_cast<char*>(length), 4);
    raw += column;
  }
  std::string compressed(ZSTD_compressBound(raw.size()), '\0');
  compressed.resize(ZSTD_compress(&compressed[0], compressed.size(), raw.data(),
                                  raw.size(), 1));
  return Frame(
      format::kChunkRecord,
      ChunkFields(static_cast<uint32_t>(raw.size()), count, first_seq, 0),
      compressed);
}

absl::Status ReadAll(const std::string& bytes) {
  auto reader = TraceReader::OpenBuffer("t.slabtrace", bytes);
  if (!reader.ok()) return reader.status();
  return ReadAllItems(reader->get()).status();
}

TEST(TraceReaderErrorsTest, NotASlabtraceFile) {
  EXPECT_THAT(std::string(ReadAll("hello world, this is text").message()),
              HasSubstr("t.slabtrace: offset 0: not a slabtrace file"));
  EXPECT_THAT(std::string(ReadAll("").message()),
              HasSubstr("not a slabtrace file"));
}

TEST(TraceReaderErrorsTest, NewerVersionInMagicOrHeader) {
  std::string bytes = GetSmallTrace().bytes;
  bytes[7] = '2';
  EXPECT_THAT(std::string(ReadAll(bytes).message()),
              HasSubstr("offset 7: format version 2 is newer than supported"));
  TraceHeader header = JemallocTestHeader();
  header.set_format_version(3);
  EXPECT_THAT(std::string(ReadAll(HeaderFile(header)).message()),
              HasSubstr("offset 8: format version 3 is newer than supported"));
}

TEST(TraceReaderErrorsTest, ChecksumMismatchNamesTheRecord) {
  const SmallTrace& t = GetSmallTrace();
  std::string bytes = t.bytes;
  const size_t at = t.header_end + 30;  // inside the first chunk.
  bytes[at] ^= 0x40;
  EXPECT_EQ(std::string(ReadAll(bytes).message()),
            absl::StrCat("t.slabtrace: offset ", t.header_end,
                         ": chunk record checksum mismatch"));
}

TEST(TraceReaderErrorsTest, HugeLengthIsAnErrorNotAnAllocation) {
  TraceHeader header = JemallocTestHeader();
  header.set_format_version(1);
  std::string bytes = HeaderFile(header);
  const size_t at = bytes.size();
  bytes += Frame(format::kChunkRecord, ChunkFields(1, 1, 0, 0), "x");
  internal::PutLe32(reinterpret_cast<uint8_t*>(&bytes[at + 1]), 0xfffffff0u);
  EXPECT_THAT(std::string(ReadAll(bytes).message()),
              HasSubstr("exceeds the maximum"));
}

TEST(TraceReaderErrorsTest, MalformedColumns) {
  TraceHeader header = JemallocTestHeader();
  header.set_format_version(1);
  const std::string base = HeaderFile(header);
  const std::string one_byte(1, '\0');
  // kind 3 is out of range (0xe0: same-thread bit, kind 3, api 0).
  EXPECT_THAT(
      std::string(
          ReadAll(base + ChunkRecord({std::string(1, '\xe0'), one_byte,
                                      one_byte, one_byte, one_byte, one_byte},
                                     1))
              .message()),
      HasSubstr("malformed column: event 0: kind 3"));
  // Size class 200 does not exist.
  EXPECT_THAT(
      std::string(
          ReadAll(base + ChunkRecord({one_byte, one_byte, one_byte, one_byte,
                                      one_byte, std::string("\xc8\x01")},
                                     1))
              .message()),
      HasSubstr("size class 200 out of range"));
  // A varint running off its column.
  EXPECT_THAT(
      std::string(ReadAll(base + ChunkRecord({one_byte, "\x80", one_byte,
                                              one_byte, one_byte, one_byte},
                                             1))
                      .message()),
      HasSubstr("varint overrun"));
  // Two kind bytes for one event.
  EXPECT_THAT(
      std::string(
          ReadAll(base + ChunkRecord({std::string(2, '\0'), one_byte, one_byte,
                                      one_byte, one_byte, one_byte},
                                     1))
              .message()),
      HasSubstr("kind column has 2 bytes for 1 events"));
  // Thread column present for an event marked "same thread".
  EXPECT_THAT(
      std::string(
          ReadAll(base + ChunkRecord({std::string(1, '\x80'), one_byte,
                                      one_byte, one_byte, one_byte, one_byte},
                                     1))
              .message()),
      HasSubstr("column 2 has 1 bytes beyond its 1 events"));
  // A column with bytes left over.
  EXPECT_THAT(
      std::string(
          ReadAll(base + ChunkRecord({one_byte, one_byte, std::string(2, '\0'),
                                      one_byte, one_byte, one_byte},
                                     1))
              .message()),
      HasSubstr("beyond its 1 events"));
}

// Column frames (format::kChunkColumnFrames): a column as it is, or one
// zstd frame of it, each after its stored length.
std::string ColumnFrame(const std::string& column, bool zstd) {
  std::string stored = column;
  if (zstd) {
    stored.resize(ZSTD_compressBound(column.size()));
    stored.resize(ZSTD_compress(&stored[0], stored.size(), column.data(),
                                column.size(), 1));
  }
  std::string frame(4, '\0');
  internal::PutLe32(reinterpret_cast<uint8_t*>(&frame[0]),
                    static_cast<uint32_t>(stored.size()) |
                        (zstd ? format::kZstdColumnFrame : 0));
  return frame + stored;
}

TEST(TraceReaderTest, ReadsColumnFramesOfBothStorages) {
  TraceHeader header = JemallocTestHeader();
  header.set_format_version(1);
  const std::string one_byte(1, '\0');
  // One allocation (kind byte 0) of size class 3 at pointer 64, size 2.
  const std::vector<std::string> columns = {one_byte, one_byte,
                                            one_byte, std::string("\x80\x01"),
                                            one_byte, std::string(1, '\x03')};
  std::string frames;
  for (size_t c = 0; c < columns.size(); ++c) {
    frames += ColumnFrame(columns[c], /*zstd=*/c % 2 == 0);
  }
  const std::string chunk =
      Frame(format::kChunkRecord,
            ChunkFields(6 * 5 + 1, 1, 0, format::kChunkColumnFrames), frames);
  const std::string bytes = HeaderFile(header) + chunk;  // the reader's.
  auto reader = TraceReader::OpenBuffer("t.slabtrace", bytes);
  ASSERT_TRUE(reader.ok()) << reader.status();
  auto items = ReadAllItems(reader->get());
  ASSERT_TRUE(items.ok()) << items.status();
  ASSERT_EQ(items->size(), 1u);
  const Event& e = (*items)[0].event;
  EXPECT_EQ(e.kind, EventKind::kAlloc);
  EXPECT_EQ(e.ptr, 64u);
  EXPECT_EQ(e.size_class, 3);
  EXPECT_EQ(e.size, header.size_classes(3).size());
}

// A malformed column frame is an error at the chunk's offset that names
// the column.
TEST(TraceReaderErrorsTest, MalformedColumnFrames) {
  TraceHeader header = JemallocTestHeader();
  header.set_format_version(1);
  const std::string base = HeaderFile(header);
  const uint64_t chunk_offset = base.size();
  const std::string one_byte(1, '\0');
  std::string frames;
  for (int c = 0; c < 6; ++c) frames += ColumnFrame(one_byte, c == 4);
  auto read = [&](const std::string& payload, uint32_t uncompressed) {
    return std::string(
        ReadAll(base + Frame(format::kChunkRecord,
                             ChunkFields(uncompressed, 1, 0,
                                         format::kChunkColumnFrames),
                             payload))
            .message());
  };
  const std::string at =
      absl::StrCat("t.slabtrace: offset ", chunk_offset, ": malformed chunk: ");
  EXPECT_EQ(read(frames.substr(0, frames.size() - 1), 30),
            at + "column 5: frame of 1 bytes runs past the payload");
  EXPECT_EQ(read(frames, 29),
            at + "column 5: the columns exceed the chunk's 29 bytes");
  std::string bad = frames;
  bad[4 * 5 + 4 + 4] ^= 0x40;  // column 4's zstd frame header.
  EXPECT_THAT(read(bad, 30), HasSubstr(at + "column 4: "));
  // The columns are whole, and then decoded: class 0 at pointer 0.
  EXPECT_EQ(read(frames, 30), "");
}

// Long columns are decoded without per-varint bounds checks where they
// cannot run out; malformed values there must be found all the same, and
// reported as the column-by-column order would: the time column before the
// size-class column, whatever their events.
TEST(TraceReaderErrorsTest, MalformedValuesInsideLongColumns) {
  TraceHeader header = JemallocTestHeader();
  header.set_format_version(1);
  const std::string base = HeaderFile(header);
  constexpr uint32_t kEvents = 1000;
  const std::string same_thread_allocs(kEvents, '\x80');
  const std::string zeros(kEvents, '\0');
  const std::string too_long = std::string(10, '\xff') + "\x01";
  auto with_at = [&](int event, const std::string& value) {
    return std::string(event, '\0') + value +
           std::string(kEvents - event - 1, '\0');
  };
  EXPECT_THAT(std::string(ReadAll(base + ChunkRecord({same_thread_allocs, zeros,
                                                      "", zeros, zeros,
                                                      with_at(50, "\xc8\x01")},
                                                     kEvents))
                              .message()),
              HasSubstr("event 50: size class 200 out of range"));
  EXPECT_THAT(std::string(ReadAll(base + ChunkRecord({same_thread_allocs,
                                                      with_at(50, too_long), "",
                                                      zeros, zeros, zeros},
                                                     kEvents))
                              .message()),
              HasSubstr("event 50: varint overrun"));
  EXPECT_THAT(
      std::string(
          ReadAll(base + ChunkRecord({same_thread_allocs, with_at(70, too_long),
                                      "", zeros, with_at(10, too_long),
                                      with_at(60, "\xc8\x01")},
                                     kEvents))
              .message()),
      HasSubstr("event 70: varint overrun"));
  // The same chunk without the faults reads.
  EXPECT_TRUE(ReadAll(base + ChunkRecord({same_thread_allocs, zeros, "", zeros,
                                          zeros, zeros},
                                         kEvents))
                  .ok());
}

// The widest varints (9 and 10 bytes) inside a long column, where they are
// decoded without bounds checks.
TEST(TraceReaderTest, WidestVarintsInsideLongColumns) {
  TraceHeader header = JemallocTestHeader();
  header.set_format_version(1);
  constexpr uint32_t kEvents = 1000;
  std::string same_thread_frees(kEvents, '\xa0');  // kind 1, api 0.
  std::string sizes;
  for (uint32_t i = 0; i < kEvents; ++i) {
    if (i == 40) {
      sizes += std::string(9, '\xff') + "\x01";  // 2^64 - 1: ten bytes.
    } else if (i == 41) {
      sizes += std::string(8, '\xff') + "\x7f";  // 2^63 - 1: nine bytes.
    } else {
      sizes += static_cast<char>(i % 100);
    }
  }
  const std::string zeros(kEvents, '\0');
  // OpenBuffer reads the bytes in place: they must outlive the reader.
  const std::string bytes =
      HeaderFile(header) +
      ChunkRecord({same_thread_frees, zeros, "", zeros, sizes, zeros}, kEvents);
  auto reader = TraceReader::OpenBuffer("t.slabtrace", bytes);
  ASSERT_TRUE(reader.ok()) << reader.status();
  absl::StatusOr<std::vector<TraceItem>> items = ReadAllItems(reader->get());
  ASSERT_TRUE(items.ok()) << items.status();
  ASSERT_EQ(items->size(), kEvents);
  for (uint32_t i = 0; i < kEvents; ++i) {
    const uint64_t want = i == 40   ? ~uint64_t{0}
                          : i == 41 ? ~uint64_t{0} >> 1
                                    : i % 100;
    EXPECT_EQ((*items)[i].event.size, want) << i;
    EXPECT_EQ((*items)[i].event.kind, EventKind::kFree) << i;
  }
}

TEST(TraceReaderErrorsTest, ChunkSequenceOutOfOrder) {
  TraceHeader header = JemallocTestHeader();
  header.set_format_version(1);
  const std::string one_byte(1, '\0');
  const std::string chunk = ChunkRecord(
      {one_byte, one_byte, one_byte, one_byte, one_byte, one_byte}, 1, 50);
  const std::string bytes = HeaderFile(header) + chunk + chunk;
  EXPECT_THAT(std::string(ReadAll(bytes).message()),
              HasSubstr("chunk sequence out of order: starts at seq 50"));
}

TEST(TraceReaderErrorsTest, SequenceGapsAreAWarning) {
  TraceHeader header = JemallocTestHeader();
  header.set_format_version(1);
  const std::string one_byte(1, '\0');
  const std::vector<std::string> columns(6, one_byte);
  const std::string bytes = HeaderFile(header) + ChunkRecord(columns, 1, 5) +
                            ChunkRecord(columns, 1, 9);
  auto reader = *TraceReader::OpenBuffer("g.slabtrace", bytes);
  ASSERT_TRUE(ReadAllItems(reader.get()).ok());
  EXPECT_THAT(reader->warnings(),
              testing::Contains(HasSubstr(
                  "1 gaps in the event sequence numbers (first: expected seq "
                  "6, chunk starts at 9)")));
}

TEST(TraceReaderErrorsTest, MissingTrailerWarningCountsChunksAndEvents) {
  const TraceHeader header = JemallocTestHeader();
  const std::vector<TraceItem> items = RandomTraceItems(5, 2500, header);
  TraceWriterOptions options;
  options.events_per_chunk = 1000;
  const std::string bytes =
      *WriteTrace(items, header, options, /*close=*/false);
  auto reader = *TraceReader::OpenBuffer("r.slabtrace", bytes);
  auto got = ReadAllItems(reader.get());
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->size(), items.size());
  // The random stream also has sequence gaps, which get their own line.
  EXPECT_THAT(reader->warnings(),
              testing::Contains(absl::StrCat(
                  "r.slabtrace: offset ", bytes.size(),
                  ": trace ends without a trailer (recorder killed?); "
                  "read ",
                  reader->chunks_read(), " whole chunks, 2,500 events")));
  EXPECT_FALSE(reader->trailer().has_value());
}

// A complete file: header, one 1-event chunk at seq 0, then `trailer` and
// the footer. `fill` edits the trailer once the chunk's offset is known.
std::string OneChunkFileWithTrailer(
    TraceTrailer trailer,
    const std::function<void(uint64_t chunk_offset, TraceTrailer*)>& fill =
        nullptr) {
  TraceHeader header = JemallocTestHeader();
  header.set_format_version(1);
  std::string bytes = HeaderFile(header);
  const uint64_t chunk_offset = bytes.size();
  bytes += ChunkRecord(std::vector<std::string>(6, std::string(1, '\0')), 1);
  if (fill) fill(chunk_offset, &trailer);
  const uint64_t trailer_offset = bytes.size();
  bytes += Frame(format::kTrailerRecord, "", trailer.SerializeAsString());
  uint8_t footer[8];
  internal::PutLe64(footer, trailer_offset);
  bytes.append(reinterpret_cast<char*>(footer), 8);
  bytes += "SLABTEND";
  return bytes;
}

// What the writer would say of that one-event file, but `event_count`.
TraceTrailer OneEventTrailer(uint64_t event_count) {
  TraceTrailer trailer;
  trailer.set_event_count(event_count);
  trailer.set_chunk_count(1);
  trailer.set_complete(true);
  (*trailer.mutable_events_by_kind())["alloc"] = 1;
  return trailer;
}

TEST(TraceReaderTest, TrailerIsKnownAtOpenWhenTheFileHasAFooter) {
  const SmallTrace& t = GetSmallTrace();
  auto reader = *TraceReader::OpenBuffer("small.slabtrace", t.bytes);
  ASSERT_TRUE(reader->early_trailer().has_value());
  EXPECT_FALSE(reader->trailer().has_value());  // still only at the end.
  EXPECT_EQ(reader->bytes_read(), t.header_end);
  EXPECT_GT(reader->early_trailer()->max_live_objects(), 0u);
  const std::string early = reader->early_trailer()->DebugString();
  ASSERT_TRUE(ReadAllItems(reader.get()).ok());
  ASSERT_TRUE(reader->trailer().has_value());
  EXPECT_EQ(reader->trailer()->DebugString(), early);
  for (const std::string& warning : reader->warnings()) {
    EXPECT_THAT(warning, HasSubstr("gaps in the event sequence"));  // random.
  }
}

TEST(TraceReaderErrorsTest, FooterThatMissesTheTrailerGivesNoEarlyTrailer) {
  std::string bytes = OneChunkFileWithTrailer(OneEventTrailer(1));
  // The footer's offset one byte off: not a trailer record there. Open
  // still works and the stream reports it at the end, as before.
  const size_t at = bytes.size() - 16;
  internal::PutLe64(
      reinterpret_cast<uint8_t*>(&bytes[at]),
      internal::GetLe64(reinterpret_cast<uint8_t*>(&bytes[at])) + 1);
  auto reader = *TraceReader::OpenBuffer("f.slabtrace", bytes);
  EXPECT_FALSE(reader->early_trailer().has_value());
  auto items = ReadAllItems(reader.get());
  ASSERT_FALSE(items.ok());
  EXPECT_THAT(std::string(items.status().message()),
              HasSubstr("footer points to offset"));

  // A trailer record without a footer after it: none at open either, and
  // the same warning at the end.
  const std::string no_footer = bytes.substr(0, bytes.size() - 16);
  auto bare = *TraceReader::OpenBuffer("n.slabtrace", no_footer);
  EXPECT_FALSE(bare->early_trailer().has_value());
  ASSERT_TRUE(ReadAllItems(bare.get()).ok());
  EXPECT_TRUE(bare->trailer().has_value());
  EXPECT_THAT(bare->warnings(),
              testing::ElementsAre(HasSubstr("without its footer")));
}

TEST(TraceReaderErrorsTest, TrailerThatDisagreesIsAWarning) {
  const std::string bytes = OneChunkFileWithTrailer(OneEventTrailer(7));
  auto reader = *TraceReader::OpenBuffer("d.slabtrace", bytes);
  ASSERT_TRUE(ReadAllItems(reader.get()).ok());
  EXPECT_THAT(reader->warnings(),
              testing::ElementsAre(HasSubstr("trailer says events 7, the file "
                                             "holds 1")));
}

// The one-event file whose trailer's chunk index puts its chunk at
// `first_seq` (it is at 0).
std::string FileWithChunkIndex(uint64_t first_seq) {
  return OneChunkFileWithTrailer(
      OneEventTrailer(1), [first_seq](uint64_t offset, TraceTrailer* trailer) {
        ChunkIndexEntry* entry = trailer->add_chunks();
        entry->set_offset(offset);
        entry->set_first_seq(first_seq);
        entry->set_event_count(1);
      });
}

TEST(TraceReaderErrorsTest, ChunkIndexIsCheckedEntryByEntry) {
  // OpenBuffer reads the bytes in place: they must outlive the reader.
  const std::string good_bytes = FileWithChunkIndex(0);
  auto good = *TraceReader::OpenBuffer("i.slabtrace", good_bytes);
  ASSERT_TRUE(ReadAllItems(good.get()).ok());
  EXPECT_THAT(good->warnings(), testing::IsEmpty());
  const std::string bad_bytes = FileWithChunkIndex(1);
  auto bad = *TraceReader::OpenBuffer("i.slabtrace", bad_bytes);
  ASSERT_TRUE(ReadAllItems(bad.get()).ok());
  EXPECT_THAT(bad->warnings(),
              testing::ElementsAre(HasSubstr("chunk index disagrees")));
}

TEST(TraceReaderErrorsTest, UnparsableHeaderIsOneQuietError) {
  TraceHeader header = JemallocTestHeader();
  header.set_format_version(1);
  header.set_clock("CLOCK_\xff");  // a `string` field: must be UTF-8.
  std::string payload;
  {
    google::protobuf::LogSilencer silence;  // serialising complains too.
    payload = header.SerializeAsString();
  }
  const std::string bytes = std::string(format::kMagic, format::kMagicBytes) +
                            Frame(format::kHeaderRecord, "", payload);
  testing::internal::CaptureStderr();
  const absl::Status status = ReadAll(bytes);
  const std::string logged = testing::internal::GetCapturedStderr();
  EXPECT_EQ(std::string(status.message()),
            "t.slabtrace: offset 8: malformed header record (protobuf does "
            "not parse)");
  EXPECT_EQ(logged, "");
}

TEST(TraceReaderErrorsTest, OpenNamesAMissingFile) {
  auto reader = TraceReader::Open("/nonexistent/x.slabtrace");
  ASSERT_FALSE(reader.ok());
  EXPECT_THAT(std::string(reader.status().message()),
              HasSubstr("/nonexistent/x.slabtrace: offset 0: cannot open"));
}

}  // namespace
}  // namespace slabtrace

namespace slabtrace {
namespace {

// A chunk is handed out in runs of at most 1,024 events so that they are
// still in cache when the caller reads them; the runs together are the
// chunk, share its offset, and the chunk counts as read after its last run.
TEST(TraceReaderTest, ChunksComeOutInRunsThatShareTheChunkOffset) {
  const TraceHeader header = JemallocTestHeader();
  std::vector<TraceItem> items = RandomTraceItems(/*seed=*/5, 6000, header);
  // One gap-free chunk of 5,000 events, then a marker and a 1,000-event one.
  std::vector<TraceItem> events;
  for (const TraceItem& item : items) {
    if (!item.is_marker) events.push_back(item);
  }
  ASSERT_GE(events.size(), 6000u);
  events.resize(6000);
  for (size_t i = 0; i < events.size(); ++i) events[i].event.seq = i;
  TraceItem marker;
  marker.is_marker = true;
  marker.marker.set_seq(5000);
  marker.marker.set_label("between");
  events.insert(events.begin() + 5000, marker);
  TraceWriterOptions options;
  options.events_per_chunk = 64 * 1024;
  const std::string bytes = *WriteTrace(events, header, options);

  auto reader = *TraceReader::OpenBuffer("runs.slabtrace", bytes);
  TraceRecord record;
  std::vector<size_t> runs;
  std::vector<uint64_t> offsets;
  std::vector<uint64_t> chunks_read;
  std::vector<TraceItem> got;
  while (*reader->Next(&record)) {
    // Each run's kind counts and largest thread are those of its events.
    std::array<uint32_t, kNumEventKinds> kinds{};
    uint32_t max_thread = 0;
    for (const Event& e : record.events) {
      ++kinds[static_cast<int>(e.kind)];
      max_thread = std::max(max_thread, e.thread);
    }
    EXPECT_EQ(record.kind_counts, kinds);
    EXPECT_EQ(record.max_thread, max_thread);
    if (record.type == TraceRecord::Type::kMarker) {
      runs.push_back(0);
      TraceItem item;
      item.is_marker = true;
      item.marker = *record.marker;
      got.push_back(item);
    } else {
      runs.push_back(record.events.size());
      for (const Event& e : record.events) {
        TraceItem item;
        item.event = e;
        got.push_back(item);
      }
    }
    offsets.push_back(record.offset);
    chunks_read.push_back(reader->chunks_read());
  }
  EXPECT_EQ(runs, (std::vector<size_t>{1024, 1024, 1024, 1024, 904, 0, 1000}));
  for (int i = 1; i < 5; ++i) EXPECT_EQ(offsets[i], offsets[0]) << i;
  EXPECT_NE(offsets[5], offsets[0]);
  EXPECT_NE(offsets[6], offsets[5]);
  EXPECT_EQ(chunks_read, (std::vector<uint64_t>{0, 0, 0, 0, 1, 1, 2}));
  ASSERT_EQ(got.size(), events.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(got[i] == events[i]) << i;
  }
  EXPECT_EQ(reader->events_read(), 6000u);
  EXPECT_TRUE(reader->warnings().empty());
}

// A malformed value in a later run of a chunk: the runs before it come out,
// the run holding it fails with the chunk's offset and the same message as
// for a short chunk, and the error is final.
TEST(TraceReaderErrorsTest, MalformedValueInALaterRunFailsForGood) {
  TraceHeader header = JemallocTestHeader();
  header.set_format_version(1);
  const std::string base = HeaderFile(header);
  constexpr uint32_t kEvents = 3000;
  const std::string same_thread_allocs(kEvents, '\x80');
  const std::string zeros(kEvents, '\0');
  std::string classes =
      std::string(2500, '\0') + "\xc8\x01" + std::string(kEvents - 2501, '\0');
  const std::string bytes =
      base + ChunkRecord({same_thread_allocs, zeros, "", zeros, zeros, classes},
                         kEvents);
  auto reader = *TraceReader::OpenBuffer("t.slabtrace", bytes);
  TraceRecord record;
  for (int run = 0; run < 2; ++run) {
    absl::StatusOr<bool> more = reader->Next(&record);
    ASSERT_TRUE(more.ok()) << run << ": " << more.status();
    ASSERT_TRUE(*more);
    EXPECT_EQ(record.events.size(), 1024u);
    EXPECT_EQ(record.offset, base.size());
  }
  const std::string expected =
      absl::StrCat("t.slabtrace: offset ", base.size(),
                   ": malformed column: event 2500: size class 200 out of "
                   "range");
  for (int again = 0; again < 2; ++again) {
    absl::StatusOr<bool> more = reader->Next(&record);
    ASSERT_FALSE(more.ok()) << again;
    EXPECT_EQ(more.status().message(), expected) << again;
  }
  EXPECT_EQ(reader->chunks_read(), 0u);
}

}  // namespace
}  // namespace slabtrace
