// Rewrites a slabtrace file with the current TraceWriter: the same header,
// events (in the same chunks), markers with their statistics and trailer
// fields, in the writer's current coding and with the trailer fields it
// now derives (e.g. max_live_objects). Used once to bring testdata/redis/
// up to date without re-recording (README.md); the replay of the result
// must match the goldens byte for byte.
//
// usage: rewrite_trace IN OUT
// It then reads both files and fails unless OUT holds the same events,
// markers and fields (see Verify).

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "proto/testing/trace_items.h"
#include "proto/trace_reader.h"
#include "proto/trace_writer.h"

namespace slabtrace {
namespace {

absl::Status Rewrite(const std::string& in, const std::string& out) {
  absl::StatusOr<std::unique_ptr<TraceReader>> reader = TraceReader::Open(in);
  if (!reader.ok()) return reader.status();
  if (!(*reader)->warnings().empty()) {
    return absl::FailedPreconditionError(in + ": " +
                                         (*reader)->warnings().front());
  }
  // A chunk's events never span more than the writer's chunk size, and
  // chunk boundaries are kept by flushing where the old file's chunks end.
  TraceWriterOptions options;
  options.events_per_chunk = 1 << 20;
  absl::StatusOr<std::unique_ptr<TraceWriter>> writer =
      TraceWriter::Create(out, (*reader)->header(), options);
  if (!writer.ok()) return writer.status();
  TraceRecord record;
  uint64_t chunk_offset = 0;
  bool in_chunk = false;
  while (true) {
    absl::StatusOr<bool> more = (*reader)->Next(&record);
    if (!more.ok()) return more.status();
    if (!*more) break;
    if (record.type == TraceRecord::Type::kMarker) {
      in_chunk = false;
      absl::Status status = (*writer)->AddMarker(*record.marker);
      if (!status.ok()) return status;
      continue;
    }
    if (in_chunk && record.offset != chunk_offset) {
      absl::Status status = (*writer)->Flush();
      if (!status.ok()) return status;
    }
    in_chunk = true;
    chunk_offset = record.offset;
    absl::Status status = (*writer)->AppendBatch(record.events);
    if (!status.ok()) return status;
  }
  if (!(*reader)->warnings().empty() || !(*reader)->trailer().has_value()) {
    return absl::FailedPreconditionError(in + ": not a whole trace: " +
                                         ((*reader)->warnings().empty()
                                              ? std::string("no trailer")
                                              : (*reader)->warnings().front()));
  }
  // The writer fills in the totals, the chunk index and what it derives;
  // the recorder's own fields (calls, threads, ...) are kept as they were.
  return (*writer)->Close(*(*reader)->trailer());
}

// Every event (with its slab), marker and chunk size of `b` equals `a`'s,
// and the header and trailer do but for the chunk offsets and the fields
// the writer now adds.
absl::Status Verify(const std::string& a, const std::string& b) {
  absl::StatusOr<std::unique_ptr<TraceReader>> ra = TraceReader::Open(a);
  if (!ra.ok()) return ra.status();
  absl::StatusOr<std::unique_ptr<TraceReader>> rb = TraceReader::Open(b);
  if (!rb.ok()) return rb.status();
  if ((*ra)->header().DebugString() != (*rb)->header().DebugString()) {
    return absl::DataLossError(absl::StrCat("headers differ:\n",
                                            (*ra)->header().DebugString(),
                                            (*rb)->header().DebugString()));
  }
  absl::StatusOr<std::vector<TraceItem>> items_a = ReadAllItems(ra->get());
  if (!items_a.ok()) return items_a.status();
  absl::StatusOr<std::vector<TraceItem>> items_b = ReadAllItems(rb->get());
  if (!items_b.ok()) return items_b.status();
  for (TraceReader* reader : {ra->get(), rb->get()}) {
    if (!reader->warnings().empty()) {
      return absl::DataLossError(reader->warnings().front());
    }
  }
  if (*items_a != *items_b) {
    return absl::DataLossError("events or markers differ");
  }
  TraceTrailer ta = *(*ra)->trailer();
  TraceTrailer tb = *(*rb)->trailer();
  if (ta.chunks_size() != tb.chunks_size()) {
    return absl::DataLossError("chunk counts differ");
  }
  for (int i = 0; i < ta.chunks_size(); ++i) {
    ta.mutable_chunks(i)->clear_offset();
    tb.mutable_chunks(i)->clear_offset();
  }
  // The writer derives it; traces written before it have none.
  ta.clear_max_live_objects();
  tb.clear_max_live_objects();
  if (ta.DebugString() != tb.DebugString()) {
    return absl::DataLossError("trailers differ");
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace slabtrace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s IN OUT\n", argv[0]);
    return 2;
  }
  absl::Status status = slabtrace::Rewrite(argv[1], argv[2]);
  if (status.ok()) status = slabtrace::Verify(argv[1], argv[2]);
  if (!status.ok()) {
    std::fprintf(stderr, "rewrite_trace: %s\n",
                 std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
