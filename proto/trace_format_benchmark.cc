// Encode/decode throughput and compressed size of the trace format on a
// Redis-like synthetic stream (proto/testing/redis_like_stream.h).
//
//   bazel run -c opt //proto:trace_format_benchmark --
//     --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// (one line).
//
// Targets (issue 2): <= 2.0 bytes/event, decode >= 100 M events/s and
// encode >= 30 M events/s on one core. "bytes_per_event" is the whole file
// (header, frames, trailer) divided by the events.

#include <sys/mman.h>
#include <unistd.h>
#include <zstd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "proto/internal/column_frames.h"
#include "proto/internal/event_columns.h"
#include "proto/internal/frame.h"
#include "proto/slab_geometry.h"
#include "proto/testing/redis_like_stream.h"
#include "proto/testing/test_header.h"
#include "proto/trace_format.h"
#include "proto/trace_reader.h"
#include "proto/trace_writer.h"

namespace slabtrace {
namespace {

constexpr int kEvents = 1 << 21;

const std::vector<Event>& Stream() {
  static const std::vector<Event>* events = [] {
    auto* v = new std::vector<Event>(kEvents);
    RedisLikeStream stream(JemallocTestHeader(), {.seed = 1});
    for (Event& e : *v) stream.Next(&e);
    return v;
  }();
  return *events;
}

// Writes the stream into a memory file; returns the bytes.
std::string Encode(const std::vector<Event>& events, const TraceHeader& header,
                   const TraceWriterOptions& options) {
  const int fd = memfd_create("bench", MFD_CLOEXEC);
  auto writer = *TraceWriter::CreateFromFd(dup(fd), "bench", header, options);
  for (const Event& e : events) (void)writer->Append(e);
  (void)writer->Close();
  std::string bytes(static_cast<size_t>(lseek(fd, 0, SEEK_END)), '\0');
  if (pread(fd, &bytes[0], bytes.size(), 0) !=
      static_cast<ssize_t>(bytes.size())) {
    std::fprintf(stderr,
                 "trace_format_benchmark: cannot read back the trace\n");
    std::exit(1);
  }
  close(fd);
  return bytes;
}

// The writer's encoder: the reference coding over the test geometry.
internal::ChunkEncoder TestEncoder() {
  return internal::ChunkEncoder(*SlabGeometry::Create(JemallocTestHeader()));
}

TraceHeader HeaderWithResolution(uint64_t resolution_ns) {
  TraceHeader header = JemallocTestHeader();
  header.set_time_resolution_ns(resolution_ns);
  return header;
}

// Args: time resolution in ns, zstd level.
void BM_Encode(benchmark::State& state) {
  const std::vector<Event>& events = Stream();
  const TraceHeader header = HeaderWithResolution(state.range(0));
  TraceWriterOptions options;
  options.zstd_level = static_cast<int>(state.range(1));
  size_t bytes = 0;
  for (auto _ : state) {
    bytes = Encode(events, header, options).size();
    benchmark::DoNotOptimize(bytes);
  }
  state.SetItemsProcessed(state.iterations() * events.size());
  state.counters["bytes_per_event"] =
      static_cast<double>(bytes) / events.size();
}
BENCHMARK(BM_Encode)->Args({1000, 3})->Args({1000, 1})->Args({1, 3})->Unit(
    benchmark::kMillisecond);

void BM_Decode(benchmark::State& state) {
  const std::vector<Event>& events = Stream();
  const std::string bytes =
      Encode(events, HeaderWithResolution(state.range(0)), {});
  uint64_t checksum = 0;
  for (auto _ : state) {
    auto reader = *TraceReader::OpenBuffer("bench", bytes);
    TraceRecord record;
    while (*reader->Next(&record)) {
      for (const Event& e : record.events) checksum += e.slab;
    }
    benchmark::DoNotOptimize(checksum);
  }
  state.SetItemsProcessed(state.iterations() * events.size());
  state.counters["bytes_per_event"] =
      static_cast<double>(bytes.size()) / events.size();
}
BENCHMARK(BM_Decode)->Arg(1000)->Arg(1)->Unit(benchmark::kMillisecond);

// Where the bytes go: each column of each 64K-event chunk as the writer
// stores it (a column frame at zstd 1), in bytes per event, plus the
// uncompressed size.
void BM_ColumnBytes(benchmark::State& state) {
  const std::vector<Event>& events = Stream();
  internal::ChunkEncoder encoder = TestEncoder();
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 1);
  std::vector<double> column_bytes(format::kNumPackedColumns, 0);
  double raw_bytes = 0;
  std::vector<uint8_t> frames;
  for (auto _ : state) {
    std::fill(column_bytes.begin(), column_bytes.end(), 0);
    raw_bytes = 0;
    for (size_t at = 0; at < events.size(); at += 65536) {
      const size_t n = std::min<size_t>(65536, events.size() - at);
      encoder.Encode(absl::MakeConstSpan(&events[at], n), 1000);
      raw_bytes += encoder.size();
      frames.resize(
          internal::ColumnFramesBound(encoder.data(), encoder.size()));
      const size_t size = *internal::PackColumnFrames(
          cctx, encoder.data(), encoder.size(), frames.data(), frames.size());
      int c = 0;
      for (size_t p = 0; p < size; ++c) {
        const size_t frame =
            4 + (internal::GetLe32(&frames[p]) & format::kColumnFrameBytesMask);
        if (c < format::kNumPackedColumns) column_bytes[c] += frame;
        p += frame;
      }
    }
  }
  ZSTD_freeCCtx(cctx);
  // The writer's columns (format::RefColumn, format::PackedColumn).
  const char* names[] = {"kind_codes",  "time",        "thread",
                         "alloc_class", "alloc_size",  "alloc_ptr",
                         "free_class",  "free_size",   "free_ptr",
                         "kind_table",  "kind_escapes"};
  for (int c = 0; c < format::kNumPackedColumns; ++c) {
    state.counters[names[c]] = column_bytes[c] / events.size();
  }
  state.counters["uncompressed"] = raw_bytes / events.size();
}
BENCHMARK(BM_ColumnBytes)->Iterations(1)->Unit(benchmark::kMillisecond);

// The zstd part of decoding alone: the reader's unpacking of the writer's
// chunk payloads (column frames at zstd 1).
void BM_DecompressOnly(benchmark::State& state) {
  const std::vector<Event>& events = Stream();
  internal::ChunkEncoder encoder = TestEncoder();
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 1);
  std::vector<std::vector<uint8_t>> chunks;
  std::vector<size_t> sizes;
  std::vector<uint8_t> scratch;
  for (size_t at = 0; at < events.size(); at += 65536) {
    const size_t n = std::min<size_t>(65536, events.size() - at);
    encoder.Encode(absl::MakeConstSpan(&events[at], n), 1000);
    std::vector<uint8_t> payload(
        internal::ChunkPayloadBound(encoder.data(), encoder.size()));
    const internal::ChunkPayload packed =
        *internal::PackChunkPayload(cctx, encoder.data(), encoder.size(),
                                    payload.data(), payload.size(), &scratch);
    if (!packed.column_frames) {
      state.SkipWithError("a 64K-event chunk without column frames");
    }
    payload.resize(packed.bytes);
    chunks.push_back(std::move(payload));
    sizes.push_back(encoder.size());
  }
  ZSTD_freeCCtx(cctx);
  std::vector<uint8_t> out(*std::max_element(sizes.begin(), sizes.end()));
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  for (auto _ : state) {
    for (size_t i = 0; i < chunks.size(); ++i) {
      benchmark::DoNotOptimize(internal::UnpackColumnFrames(
          dctx, chunks[i].data(), chunks[i].size(), out.data(), sizes[i]));
    }
  }
  ZSTD_freeDCtx(dctx);
  state.SetItemsProcessed(state.iterations() * events.size());
}
BENCHMARK(BM_DecompressOnly)->Unit(benchmark::kMillisecond);

// The column coding alone (no writer, no zstd), 64K-event chunks.
void BM_EncodeColumns(benchmark::State& state) {
  const std::vector<Event>& events = Stream();
  internal::ChunkEncoder encoder = TestEncoder();
  for (auto _ : state) {
    for (size_t at = 0; at < events.size(); at += 65536) {
      const size_t n = std::min<size_t>(65536, events.size() - at);
      encoder.Encode(absl::MakeConstSpan(&events[at], n), 1000);
      benchmark::DoNotOptimize(encoder.size());
    }
  }
  state.SetItemsProcessed(state.iterations() * events.size());
}
BENCHMARK(BM_EncodeColumns)->Unit(benchmark::kMillisecond);

// The column decoding alone (no zstd, no reader), in batches of the given
// size (TraceReader hands out 1,024).
void BM_DecodeColumns(benchmark::State& state) {
  const std::vector<Event>& events = Stream();
  internal::ChunkEncoder encoder = TestEncoder();
  std::vector<std::pair<std::string, uint32_t>> chunks;  // columns, flags.
  for (size_t at = 0; at < events.size(); at += 65536) {
    const size_t n = std::min<size_t>(65536, events.size() - at);
    encoder.Encode(absl::MakeConstSpan(&events[at], n), 1000);
    chunks.emplace_back(
        std::string(reinterpret_cast<const char*>(encoder.data()),
                    encoder.size()),
        encoder.flags());
  }
  const TraceHeader header = JemallocTestHeader();
  const SlabGeometry geometry = *SlabGeometry::Create(header);
  internal::ChunkDecoder decoder(&geometry, 1000);
  const uint32_t batch_events = static_cast<uint32_t>(state.range(0));
  std::vector<Event> batch(batch_events);
  uint64_t kind_counts[kNumEventKinds] = {};
  uint64_t checksum = 0;
  for (auto _ : state) {
    uint64_t seq = 0;
    for (const auto& [columns, flags] : chunks) {
      const uint32_t n =
          static_cast<uint32_t>(std::min<uint64_t>(65536, events.size() - seq));
      (void)decoder.Start(reinterpret_cast<const uint8_t*>(columns.data()),
                          columns.size(), n, seq, flags);
      while (decoder.remaining() > 0) {
        const uint32_t got =
            std::min<uint32_t>(batch_events, decoder.remaining());
        (void)decoder.DecodeNext(got, batch.data(), kind_counts);
        for (uint32_t i = 0; i < got; ++i) checksum += batch[i].slab;
      }
      seq += n;
    }
    benchmark::DoNotOptimize(checksum);
  }
  state.SetItemsProcessed(state.iterations() * events.size());
}
BENCHMARK(BM_DecodeColumns)
    ->Arg(512)
    ->Arg(1024)
    ->Arg(4096)
    ->Arg(65536)
    ->Unit(benchmark::kMillisecond);

// The floor under BM_DecodeColumns/1024: only writing the stream's Events
// into the same 1,024-event batch buffer (every field, values from a cheap
// recurrence the compiler cannot fold) and summing their slabs, in one
// pass (Arg 1) or field group by field group in four passes like the
// decoder's (Arg 4).
void BM_WriteEventsOnly(benchmark::State& state) {
  constexpr uint32_t kBatch = 1024;
  const bool four_passes = state.range(0) == 4;
  std::vector<Event> batch(kBatch);
  uint64_t checksum = 0;
  uint64_t x = 1;
  for (auto _ : state) {
    for (uint32_t at = 0; at < kEvents; at += kBatch) {
      Event* const out = batch.data();
      if (four_passes) {
        for (uint32_t i = 0; i < kBatch; ++i) {
          out[i].seq = at + i;
          out[i].kind = static_cast<EventKind>(i % 3);
          out[i].api = static_cast<AllocApi>(i & 15);
        }
        for (uint32_t i = 0; i < kBatch; ++i) out[i].time_ns = x + i;
        for (uint32_t i = 0; i < kBatch; ++i) out[i].thread = i & 7;
        for (uint32_t i = 0; i < kBatch; ++i) {
          x = x * 6364136223846793005ull + 1;
          out[i].ptr = x;
          out[i].slab = x >> 12;
          out[i].size = x & 255;
          out[i].size_class = static_cast<uint16_t>(x >> 56);
        }
      } else {
        for (uint32_t i = 0; i < kBatch; ++i) {
          x = x * 6364136223846793005ull + 1;
          Event& e = out[i];
          e.seq = at + i;
          e.time_ns = x + i;
          e.ptr = x;
          e.size = x & 255;
          e.slab = x >> 12;
          e.thread = i & 7;
          e.size_class = static_cast<uint16_t>(x >> 56);
          e.kind = static_cast<EventKind>(i % 3);
          e.api = static_cast<AllocApi>(i & 15);
        }
      }
      for (uint32_t i = 0; i < kBatch; ++i) checksum += out[i].slab;
    }
    benchmark::DoNotOptimize(checksum);
  }
  state.SetItemsProcessed(state.iterations() * kEvents);
}
BENCHMARK(BM_WriteEventsOnly)->Arg(1)->Arg(4)->Unit(benchmark::kMillisecond);

void BM_Generate(benchmark::State& state) {
  RedisLikeStream stream(JemallocTestHeader(), {.seed = 2});
  Event e;
  for (auto _ : state) {
    stream.Next(&e);
    benchmark::DoNotOptimize(e);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Generate);

}  // namespace
}  // namespace slabtrace

BENCHMARK_MAIN();
