// Property tests: random event streams survive TraceWriter -> TraceReader
// unchanged, field by field (with `slab` derived by the reader).

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "proto/slab_geometry.h"
#include "proto/testing/test_header.h"
#include "proto/testing/trace_items.h"
#include "proto/trace_format.h"
#include "proto/trace_reader.h"
#include "proto/trace_writer.h"

namespace slabtrace {
namespace {

void ExpectSameItems(const std::vector<TraceItem>& got,
                     const std::vector<TraceItem>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(got[i].is_marker, want[i].is_marker) << "item " << i;
    if (want[i].is_marker) {
      ASSERT_TRUE(got[i] == want[i])
          << "marker " << i << ": " << got[i].marker.DebugString() << " vs "
          << want[i].marker.DebugString();
      continue;
    }
    const Event& g = got[i].event;
    const Event& w = want[i].event;
    ASSERT_EQ(g.seq, w.seq) << "item " << i;
    ASSERT_EQ(g.time_ns, w.time_ns) << "item " << i;
    ASSERT_EQ(g.ptr, w.ptr) << "item " << i;
    ASSERT_EQ(g.size, w.size) << "item " << i;
    ASSERT_EQ(g.slab, w.slab) << "item " << i;
    ASSERT_EQ(g.thread, w.thread) << "item " << i;
    ASSERT_EQ(g.size_class, w.size_class) << "item " << i;
    ASSERT_EQ(g.kind, w.kind) << "item " << i;
    ASSERT_EQ(g.api, w.api) << "item " << i;
  }
}

struct RoundTripCase {
  uint64_t seed;
  int events;
  uint32_t events_per_chunk;
  uint64_t time_resolution_ns;
};

class RoundTripTest : public testing::TestWithParam<RoundTripCase> {};

TEST_P(RoundTripTest, RandomStreamReadsBackIdentically) {
  const RoundTripCase& c = GetParam();
  TraceHeader header = JemallocTestHeader();
  header.set_time_resolution_ns(c.time_resolution_ns);
  header.set_pid(4242);
  header.add_command_line("redis-server");
  header.add_command_line("--port 0");
  const std::vector<TraceItem> items =
      RandomTraceItems(c.seed, c.events, header);
  TraceWriterOptions options;
  options.events_per_chunk = c.events_per_chunk;
  absl::StatusOr<std::string> bytes = WriteTrace(items, header, options);
  ASSERT_TRUE(bytes.ok()) << bytes.status();

  absl::StatusOr<std::unique_ptr<TraceReader>> reader =
      TraceReader::OpenBuffer("roundtrip.slabtrace", *bytes);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->header().pid(), 4242);
  EXPECT_EQ((*reader)->header().command_line_size(), 2);
  EXPECT_EQ((*reader)->header().format_version(), format::kFormatVersion);
  EXPECT_EQ((*reader)->header().size_classes_size(),
            header.size_classes_size());
  absl::StatusOr<std::vector<TraceItem>> got = ReadAllItems(reader->get());
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSameItems(*got, items);

  ASSERT_TRUE((*reader)->trailer().has_value());
  const TraceTrailer& trailer = *(*reader)->trailer();
  EXPECT_TRUE(trailer.complete());
  uint64_t events = 0, markers = 0, allocs = 0;
  for (const TraceItem& item : items) {
    markers += item.is_marker;
    events += !item.is_marker;
    allocs += !item.is_marker && item.event.kind == EventKind::kAlloc;
  }
  EXPECT_EQ(trailer.event_count(), events);
  EXPECT_EQ(trailer.marker_count(), markers);
  EXPECT_EQ(trailer.events_by_kind().at("alloc"), allocs);
  EXPECT_EQ(trailer.chunk_count(), (*reader)->chunks_read());
  EXPECT_EQ(static_cast<uint64_t>(trailer.chunks_size()),
            trailer.chunk_count());
  EXPECT_EQ((*reader)->events_read(), events);
  EXPECT_EQ((*reader)->bytes_read(), bytes->size());
  // The only expected warning is the one about sequence gaps.
  for (const std::string& w : (*reader)->warnings()) {
    EXPECT_NE(w.find("gaps in the event sequence"), std::string::npos) << w;
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, RoundTripTest,
                         testing::Values(RoundTripCase{1, 5000, 64 * 1024,
                                                       1000},
                                         RoundTripCase{2, 5000, 100, 1000},
                                         RoundTripCase{3, 3000, 1, 1},
                                         RoundTripCase{4, 20000, 777, 1},
                                         RoundTripCase{5, 1, 10, 1000},
                                         RoundTripCase{6, 10000, 4096, 64},
                                         RoundTripCase{7, 0, 10, 1000}));

// Streams of pointers that start regions of their classes: the writer
// codes their chunks by reference (proto/README.md), and falls back to the
// classic coding for chunks with a pointer that starts no region.
struct SlabRoundTripCase {
  uint64_t seed;
  int events;
  uint32_t events_per_chunk;
  int misfits_per_mille;
};

class SlabRoundTripTest : public testing::TestWithParam<SlabRoundTripCase> {};

TEST_P(SlabRoundTripTest, ReadsBackIdentically) {
  const SlabRoundTripCase& c = GetParam();
  const TraceHeader header = JemallocTestHeader();
  const std::vector<TraceItem> items =
      RandomSlabTraceItems(c.seed, c.events, header, c.misfits_per_mille);
  TraceWriterOptions options;
  options.events_per_chunk = c.events_per_chunk;
  absl::StatusOr<std::string> bytes = WriteTrace(items, header, options);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  auto reader = TraceReader::OpenBuffer("slabs.slabtrace", *bytes);
  ASSERT_TRUE(reader.ok()) << reader.status();
  absl::StatusOr<std::vector<TraceItem>> got = ReadAllItems(reader->get());
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSameItems(*got, items);
  for (const std::string& w : (*reader)->warnings()) {
    EXPECT_NE(w.find("gaps in the event sequence"), std::string::npos) << w;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Seeds, SlabRoundTripTest,
    testing::Values(SlabRoundTripCase{1, 20000, 64 * 1024, 0},
                    SlabRoundTripCase{2, 20000, 1000, 0},
                    SlabRoundTripCase{3, 5000, 1, 0},
                    SlabRoundTripCase{4, 5000, 7, 0},
                    SlabRoundTripCase{5, 30000, 4096, 1},
                    SlabRoundTripCase{6, 30000, 333, 5},
                    SlabRoundTripCase{7, 10000, 64 * 1024, 1000}));

// The reference coding makes the same stream smaller than the classic one
// (which the writer uses when any pointer of a chunk starts no region).
TEST(SlabRoundTripTest, ReferenceCodingIsSmaller) {
  const TraceHeader header = JemallocTestHeader();
  const std::vector<TraceItem> items = RandomSlabTraceItems(8, 30000, header);
  std::vector<TraceItem> misfit = items;
  for (TraceItem& item : misfit) {
    if (!item.is_marker) {
      item.event.ptr |= 1;  // starts no region of any small class.
      item.event.slab = 0;
    }
  }
  absl::StatusOr<std::string> refs = WriteTrace(items, header, {});
  absl::StatusOr<std::string> classic = WriteTrace(misfit, header, {});
  ASSERT_TRUE(refs.ok() && classic.ok());
  EXPECT_LT(refs->size(), classic->size());
}

// The writer codes a chunk by reference as its events arrive. An event the
// reference coding cannot express ends that chunk, and the next one, which
// starts with it, is coded the classic way; with at most 4,096 events
// before it in the chunk it turns the whole chunk classic instead.
TEST(SlabRoundTripTest, APointerThatStartsNoRegionEndsItsChunk) {
  const TraceHeader header = JemallocTestHeader();
  std::vector<TraceItem> items;
  for (const TraceItem& item : RandomSlabTraceItems(9, 20000, header)) {
    if (!item.is_marker) items.push_back(item);
  }
  ASSERT_GT(items.size(), 10000u);
  for (size_t i = 0; i < items.size(); ++i) items[i].event.seq = i;
  TraceWriterOptions options;
  options.events_per_chunk = 64 * 1024;
  for (const auto& [at, chunks] : {std::pair<size_t, uint64_t>{10000, 2},
                                   std::pair<size_t, uint64_t>{100, 1},
                                   std::pair<size_t, uint64_t>{0, 1}}) {
    std::vector<TraceItem> misfit = items;
    Event& e = misfit[at].event;
    e.kind = EventKind::kAlloc;
    e.size_class = 21;  // 1280 bytes.
    e.ptr = 0x7f0000005000 + 1280 + 8;
    e.slab = 0;
    absl::StatusOr<std::string> bytes = WriteTrace(misfit, header, options);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    auto reader = TraceReader::OpenBuffer("misfit.slabtrace", *bytes);
    ASSERT_TRUE(reader.ok()) << reader.status();
    absl::StatusOr<std::vector<TraceItem>> got = ReadAllItems(reader->get());
    ASSERT_TRUE(got.ok()) << got.status();
    ExpectSameItems(*got, misfit);
    EXPECT_EQ((*reader)->chunks_read(), chunks) << "misfit at " << at;
  }
}

TEST(RoundTripTest, ReaderDerivesSlabsFromTheGeometry) {
  const TraceHeader header = JemallocTestHeader();
  std::vector<TraceItem> items(3);
  items[0].event = {.seq = 10, .ptr = 0x7f0000005000 + 3 * 1280};
  items[0].event.size_class = 21;  // 1280 bytes, 5-page slabs.
  items[1].event = {.seq = 11, .ptr = 0x7f0000100040};
  items[1].event.size_class = 36;  // large: page of the pointer.
  items[2].event = {.seq = 12, .ptr = 0x7f0000005004};
  items[2].event.size_class = 0;  // misaligned for 8 bytes: no slab.
  absl::StatusOr<std::string> bytes = WriteTrace(items, header, {});
  ASSERT_TRUE(bytes.ok());
  auto reader = TraceReader::OpenBuffer("slabs.slabtrace", *bytes);
  ASSERT_TRUE(reader.ok());
  auto got = ReadAllItems(reader->get());
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 3u);
  EXPECT_EQ((*got)[0].event.slab, 0x7f0000005000u);
  EXPECT_EQ((*got)[1].event.slab, 0x7f0000100000u);
  EXPECT_EQ((*got)[2].event.slab, 0u);
}

TEST(RoundTripTest, WriterQuantizesTimeToTheResolution) {
  TraceHeader header = JemallocTestHeader();
  header.set_time_resolution_ns(1000);
  std::vector<TraceItem> items(2);
  items[0].event.seq = 0;
  items[0].event.time_ns = 1999;
  items[1].event.seq = 1;
  items[1].event.time_ns = 123456789;
  absl::StatusOr<std::string> bytes = WriteTrace(items, header, {});
  ASSERT_TRUE(bytes.ok());
  auto reader = TraceReader::OpenBuffer("time.slabtrace", *bytes);
  ASSERT_TRUE(reader.ok());
  auto got = ReadAllItems(reader->get());
  ASSERT_TRUE(got.ok());
  EXPECT_EQ((*got)[0].event.time_ns, 1000u);
  EXPECT_EQ((*got)[1].event.time_ns, 123456000u);
}

TEST(RoundTripTest, OpenReadsAFileFromDisk) {
  const std::string path =
      std::string(getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp") +
      "/disk.slabtrace";
  const TraceHeader header = JemallocTestHeader();
  const std::vector<TraceItem> items = RandomTraceItems(11, 30000, header);
  {
    TraceWriterOptions options;
    options.events_per_chunk = 5000;
    auto writer = TraceWriter::Create(path, header, options);
    ASSERT_TRUE(writer.ok()) << writer.status();
    for (const TraceItem& item : items) {
      ASSERT_TRUE((item.is_marker ? (*writer)->AddMarker(item.marker)
                                  : (*writer)->Append(item.event))
                      .ok());
    }
    ASSERT_TRUE((*writer)->Close().ok());
    EXPECT_FALSE((*writer)->failed());
  }
  auto reader = TraceReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  auto got = ReadAllItems(reader->get());
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectSameItems(*got, items);
  EXPECT_TRUE((*reader)->trailer().has_value());
}

TEST(TraceWriterTest, RejectsOutOfRangeAndBackwardsEvents) {
  const TraceHeader header = JemallocTestHeader();
  const std::string path =
      std::string(getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp") +
      "/reject.slabtrace";
  auto writer = TraceWriter::Create(path, header);
  ASSERT_TRUE(writer.ok());
  Event e;
  e.seq = 5;
  EXPECT_TRUE((*writer)->Append(e).ok());
  EXPECT_FALSE((*writer)->Append(e).ok());  // same seq again.
  e.seq = 6;
  e.size_class = 60000;
  EXPECT_FALSE((*writer)->Append(e).ok());
  e.size_class = 0;
  e.kind = static_cast<EventKind>(7);
  EXPECT_FALSE((*writer)->Append(e).ok());
  EXPECT_EQ((*writer)->events_appended(), 1u);
  EXPECT_EQ((*writer)->dropped_events(), 3u);
  EXPECT_FALSE((*writer)->failed());
  EXPECT_TRUE((*writer)->Close().ok());
}

TEST(TraceWriterTest, KeepsAcceptingAfterAWriteErrorAndCountsDrops) {
  const TraceHeader header = JemallocTestHeader();
  // /dev/full accepts the open and fails every write with ENOSPC... but
  // the header write must succeed first, so use a pipe we close instead.
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  auto writer = TraceWriter::CreateFromFd(fds[1], "pipe", header,
                                          TraceWriterOptions{10, 1});
  ASSERT_TRUE(writer.ok()) << writer.status();
  ::close(fds[0]);  // the next write gets EPIPE.
  signal(SIGPIPE, SIG_IGN);
  int errors = 0;
  for (uint64_t i = 0; i < 100; ++i) {
    Event e;
    e.seq = i;
    if (!(*writer)->Append(e).ok()) ++errors;
  }
  EXPECT_EQ(errors, 1);  // reported once.
  EXPECT_TRUE((*writer)->failed());
  EXPECT_EQ((*writer)->dropped_events(), 100u);
  Marker marker;
  EXPECT_TRUE((*writer)->AddMarker(marker).ok());
  const absl::Status closed = (*writer)->Close();
  EXPECT_FALSE(closed.ok());
  EXPECT_NE(closed.message().find("100 events dropped"), std::string::npos)
      << closed;
}

TEST(TraceWriterTest, MarksTheTraceIncompleteWhenItStillCan) {
  // A file that refuses writes beyond its first bytes: RLIMIT_FSIZE would
  // kill us, so emulate a full disk by a file opened read-only after the
  // header: dup2 a read-only fd over the writer's descriptor.
  const std::string dir =
      getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp";
  const std::string path = dir + "/incomplete.slabtrace";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  const TraceHeader header = JemallocTestHeader();
  auto writer =
      TraceWriter::CreateFromFd(fd, path, header, TraceWriterOptions{10, 1});
  ASSERT_TRUE(writer.ok());
  for (uint64_t i = 0; i < 25; ++i) {  // two whole chunks written.
    Event e;
    e.seq = i;
    ASSERT_TRUE((*writer)->Append(e).ok());
  }
  const int read_only = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(read_only, 0);
  const int saved = ::dup(fd);
  ASSERT_EQ(::dup2(read_only, fd), fd);  // writes now fail with EBADF.
  Event e;
  e.seq = 25;
  for (; e.seq < 40; ++e.seq) (void)(*writer)->Append(e);
  EXPECT_TRUE((*writer)->failed());
  ASSERT_EQ(::dup2(saved, fd), fd);  // the "disk" has room again.
  ::close(saved);
  ::close(read_only);
  EXPECT_FALSE((*writer)->Close().ok());

  auto reader = TraceReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  auto got = ReadAllItems(reader->get());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->size(), 20u);
  ASSERT_TRUE((*reader)->trailer().has_value());
  EXPECT_FALSE((*reader)->trailer()->complete());
  EXPECT_EQ((*reader)->trailer()->dropped_events(), 20u);
  EXPECT_NE((*reader)->trailer()->incomplete_reason().find("write failed"),
            std::string::npos);
}

}  // namespace
}  // namespace slabtrace

namespace slabtrace {
namespace {

TEST(TraceWriterTest, SameInputGivesTheSameBytes) {
  // The same metadata inserted in opposite orders: map fields must not
  // leak their hash order into the file.
  TraceHeader header = JemallocTestHeader();
  TraceHeader reordered = header;
  for (int i = 0; i < 200; ++i) {
    (*header.mutable_metadata())[absl::StrCat("key", i)] = absl::StrCat(i);
    (*reordered.mutable_metadata())[absl::StrCat("key", 199 - i)] =
        absl::StrCat(199 - i);
  }
  const std::vector<TraceItem> items = RandomTraceItems(21, 3000, header);
  TraceWriterOptions options;
  options.events_per_chunk = 500;
  const absl::StatusOr<std::string> a = WriteTrace(items, header, options);
  const absl::StatusOr<std::string> b = WriteTrace(items, reordered, options);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(*a == *b);
}

}  // namespace
}  // namespace slabtrace

namespace slabtrace {
namespace {

TEST(RoundTripTest, NonUtf8TextSurvives) {
  TraceHeader header = JemallocTestHeader();
  header.add_command_line("redis-server");
  header.add_command_line("--dir=/tmp/caf\xe9");  // Latin-1, not UTF-8.
  header.set_host("h\xff");
  std::vector<TraceItem> items(2);
  items[0].event.seq = 0;
  items[1].is_marker = true;
  items[1].marker.set_seq(1);
  items[1].marker.set_label("phase \xfe");
  (*items[1].marker.mutable_stats()->mutable_extra())["k"] = "\x80\x81";
  absl::StatusOr<std::string> bytes = WriteTrace(items, header, {});
  ASSERT_TRUE(bytes.ok());
  auto reader = TraceReader::OpenBuffer("latin1.slabtrace", *bytes);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->header().command_line(1), "--dir=/tmp/caf\xe9");
  EXPECT_EQ((*reader)->header().host(), "h\xff");
  auto got = ReadAllItems(reader->get());
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[1].marker.label(), "phase \xfe");
}

}  // namespace
}  // namespace slabtrace

namespace slabtrace {
namespace {

std::string ReadFileBytes(const std::string& path) {
  std::string bytes;
  const int fd = ::open(path.c_str(), O_RDONLY);
  char buffer[1 << 16];
  ssize_t n;
  while (fd >= 0 && (n = ::read(fd, buffer, sizeof(buffer))) > 0) {
    bytes.append(buffer, static_cast<size_t>(n));
  }
  if (fd >= 0) ::close(fd);
  return bytes;
}

// The events of a random slab stream, numbered 0, 1, ... without gaps.
std::vector<Event> RandomSlabEvents(uint64_t seed, int num_events,
                                    const TraceHeader& header) {
  std::vector<Event> events;
  for (const TraceItem& item : RandomSlabTraceItems(seed, num_events, header)) {
    if (item.is_marker) continue;
    events.push_back(item.event);
    events.back().seq = events.size() - 1;
  }
  return events;
}

// Makes `e` an allocation whose pointer starts no region of its class
// (1280 bytes, 8 bytes into its second region): only a broken recorder
// writes one, and the reference coding cannot express it.
void MakeMisfit(Event& e) {
  e.kind = EventKind::kAlloc;
  e.size_class = 21;
  e.ptr = 0x7f0000005000 + 1280 + 8;
}

// Valid events with, here and there, ones Append refuses (a class out of
// range, a repeated or backwards seq), a gap in the sequence every
// `gap_every` events, which starts a new chunk, and with `misfits`,
// pointers that start no region at those positions.
void ExpectAppendBatchWritesWhatAppendWrites(
    int num_events, const TraceWriterOptions& options, size_t max_batch,
    size_t gap_every, const std::vector<size_t>& misfits) {
  const TraceHeader header = JemallocTestHeader();
  std::vector<Event> events;
  std::mt19937_64 rng(5);
  for (const TraceItem& item : RandomSlabTraceItems(9, num_events, header)) {
    if (item.is_marker) continue;
    Event e = item.event;
    events.push_back(e);
    switch (rng() % 200) {
      case 0:
        e.size_class = 60000;
        events.push_back(e);
        break;
      case 1:
        events.push_back(e);  // the same seq again.
        break;
      case 2:
        e.kind = static_cast<EventKind>(5);
        events.push_back(e);
        break;
      default:
        break;
    }
  }
  for (size_t i = 0; i < events.size(); ++i) {
    if (i % gap_every == gap_every - 1) {
      for (size_t j = i; j < events.size(); ++j) events[j].seq += 3;
    }
  }
  for (size_t at : misfits) MakeMisfit(events[at]);
  const std::string dir =
      getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp";

  auto one_by_one =
      TraceWriter::Create(dir + "/one.slabtrace", header, options);
  ASSERT_TRUE(one_by_one.ok());
  int refused = 0;
  for (const Event& e : events) refused += !(*one_by_one)->Append(e).ok();
  ASSERT_GT(refused, 10);

  auto batched =
      TraceWriter::Create(dir + "/batched.slabtrace", header, options);
  ASSERT_TRUE(batched.ok());
  int batches_refused = 0;
  for (size_t at = 0; at < events.size();) {
    const size_t n =
        std::min<size_t>(1 + rng() % max_batch, events.size() - at);
    batches_refused +=
        !(*batched)->AppendBatch(absl::MakeConstSpan(&events[at], n)).ok();
    at += n;
  }
  EXPECT_GT(batches_refused, 0);
  EXPECT_EQ((*batched)->events_appended(), (*one_by_one)->events_appended());
  EXPECT_EQ((*batched)->dropped_events(), (*one_by_one)->dropped_events());
  EXPECT_EQ((*batched)->dropped_events(), static_cast<uint64_t>(refused));
  EXPECT_TRUE((*one_by_one)->Close().ok());
  EXPECT_TRUE((*batched)->Close().ok());
  const std::string want = ReadFileBytes(dir + "/one.slabtrace");
  EXPECT_GT(want.size(), 1000u);
  EXPECT_TRUE(ReadFileBytes(dir + "/batched.slabtrace") == want);

  // Both recorded the peak of allocs - frees over the events they took.
  auto reader = *TraceReader::OpenBuffer("one.slabtrace", want);
  auto items = ReadAllItems(reader.get());
  ASSERT_TRUE(items.ok());
  int64_t live = 0, peak = 0;
  for (const TraceItem& item : *items) {
    if (item.is_marker) continue;
    live += int64_t{item.event.kind == EventKind::kAlloc} -
            int64_t{item.event.kind == EventKind::kFree};
    peak = std::max(peak, live);
  }
  EXPECT_GT(peak, 10);
  ASSERT_TRUE(reader->trailer().has_value());
  EXPECT_EQ(reader->trailer()->max_live_objects(), static_cast<uint64_t>(peak));
}

TEST(TraceWriterTest, AppendBatchWritesWhatAppendWrites) {
  ExpectAppendBatchWritesWhatAppendWrites(5000, TraceWriterOptions{97, 1}, 300,
                                          700, {});
}

// With whole chunks: where a misfit falls in its chunk (after at most
// 4,096 events, or later) decides the chunks, not how the events came.
TEST(TraceWriterTest, AppendBatchWritesWhatAppendWritesAroundMisfits) {
  const TraceHeader header = JemallocTestHeader();
  const std::vector<Event> events = RandomSlabEvents(4, 9000, header);
  ASSERT_GT(events.size(), 8000u);
  const std::string dir =
      getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp";
  for (size_t at :
       {size_t{100}, size_t{4096}, size_t{4097}, size_t{4150}, size_t{7000}}) {
    std::vector<Event> misfit = events;
    MakeMisfit(misfit[at]);
    std::string bytes[2];
    for (int batched = 0; batched < 2; ++batched) {
      const std::string path = absl::StrCat(dir, "/misfit", batched);
      auto writer = TraceWriter::Create(path, header, {});
      ASSERT_TRUE(writer.ok());
      if (batched) {  // one event, then all the others in one call.
        ASSERT_TRUE((*writer)->Append(misfit[0]).ok());
        ASSERT_TRUE((*writer)
                        ->AppendBatch(absl::MakeConstSpan(misfit).subspan(1))
                        .ok());
      } else {
        for (const Event& e : misfit) ASSERT_TRUE((*writer)->Append(e).ok());
      }
      ASSERT_TRUE((*writer)->Close().ok());
      bytes[batched] = ReadFileBytes(path);
    }
    EXPECT_TRUE(bytes[0] == bytes[1]) << "misfit at " << at;
    auto reader = *TraceReader::OpenBuffer("misfit", bytes[1]);
    ASSERT_TRUE(ReadAllItems(reader.get()).ok());
    EXPECT_EQ(reader->chunks_read(), at <= 4096 ? 1u : 2u) << at;
  }
}

// After a failed write, AppendBatch counts what Append counts.
TEST(TraceWriterTest, AppendBatchCountsWhatAppendCountsAfterAWriteError) {
  const TraceHeader header = JemallocTestHeader();
  signal(SIGPIPE, SIG_IGN);
  std::vector<Event> events = RandomSlabEvents(3, 6000, header);
  // A misfit past the kept events ends its chunk in mid-batch; that
  // chunk's write fails.
  ASSERT_GT(events.size(), 5500u);
  MakeMisfit(events[5000]);
  uint64_t counts[2][2];
  for (int batched = 0; batched < 2; ++batched) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    auto writer = TraceWriter::CreateFromFd(fds[1], "pipe", header,
                                            TraceWriterOptions{64 * 1024, 1});
    ASSERT_TRUE(writer.ok());
    ::close(fds[0]);
    if (batched) {
      (void)(*writer)->Append(events[0]);
      (void)(*writer)->AppendBatch(absl::MakeConstSpan(events).subspan(1));
    } else {
      for (const Event& e : events) (void)(*writer)->Append(e);
    }
    EXPECT_TRUE((*writer)->failed());
    counts[batched][0] = (*writer)->events_appended();
    counts[batched][1] = (*writer)->dropped_events();
    (void)(*writer)->Close();
  }
  EXPECT_EQ(counts[1][0], counts[0][0]);
  EXPECT_EQ(counts[1][1], counts[0][1]);
  EXPECT_EQ(counts[0][1], events.size());
}

TEST(TraceWriterTest, TrailerRecordsThePeakOfLiveObjects) {
  const TraceHeader header = JemallocTestHeader();
  // Two frees of older blocks first (live -2), then 5 allocs (3), a resize
  // (still 3), 2 frees (1) and 3 allocs (4): the peak is 4, whether the
  // events come one by one or in batches that split anywhere.
  const EventKind kinds[] = {
      EventKind::kFree,  EventKind::kFree,   EventKind::kAlloc,
      EventKind::kAlloc, EventKind::kAlloc,  EventKind::kAlloc,
      EventKind::kAlloc, EventKind::kResize, EventKind::kFree,
      EventKind::kFree,  EventKind::kAlloc,  EventKind::kAlloc,
      EventKind::kAlloc};
  std::vector<Event> events;
  for (const EventKind kind : kinds) {
    Event e;
    e.seq = events.size();
    e.kind = kind;
    e.api = kind == EventKind::kAlloc    ? AllocApi::kMalloc
            : kind == EventKind::kResize ? AllocApi::kRealloc
                                         : AllocApi::kFree;
    e.ptr = 0x10000 + 64 * events.size();
    e.size_class = 3;
    events.push_back(e);
  }
  const std::string dir =
      getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp";
  for (const size_t batch : {size_t{0}, size_t{1}, size_t{3}, size_t{13}}) {
    const std::string path = absl::StrCat(dir, "/peak", batch, ".slabtrace");
    auto writer = TraceWriter::Create(path, header, {4, 1});
    ASSERT_TRUE(writer.ok());
    for (size_t at = 0; at < events.size();) {
      const size_t n = batch == 0 ? 1 : std::min(batch, events.size() - at);
      ASSERT_TRUE(batch == 0
                      ? (*writer)->Append(events[at]).ok()
                      : (*writer)
                            ->AppendBatch(absl::MakeConstSpan(&events[at], n))
                            .ok());
      at += n;
    }
    TraceTrailer given;
    given.set_max_live_objects(99);  // derived by the writer, like totals.
    ASSERT_TRUE((*writer)->Close(given).ok());
    auto reader = TraceReader::Open(path);
    ASSERT_TRUE(reader.ok());
    ASSERT_TRUE((*reader)->early_trailer().has_value()) << batch;
    EXPECT_EQ((*reader)->early_trailer()->max_live_objects(), 4u) << batch;
  }
  // An empty trace: 0, as in traces written before the field.
  const std::string path = dir + "/peak_empty.slabtrace";
  auto writer = TraceWriter::Create(path, header);
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Close().ok());
  auto reader = TraceReader::Open(path);
  ASSERT_TRUE(reader.ok());
  ASSERT_TRUE((*reader)->early_trailer().has_value());
  EXPECT_EQ((*reader)->early_trailer()->max_live_objects(), 0u);
}

}  // namespace
}  // namespace slabtrace
