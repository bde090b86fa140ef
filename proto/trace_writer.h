// TraceWriter appends events, markers and a trailer to a slabtrace file
// (format v1, see proto/trace_format.h).
//
// Events must arrive in increasing sequence order. They are buffered into
// chunks of up to `events_per_chunk` events; a chunk is encoded as
// delta+varint columns (the reference coding of proto/README.md when every
// small-class pointer of the chunk starts a region of its class, the
// classic one otherwise), compressed with zstd, framed with its length, event
// count, first sequence number and CRC32C, and written with one write(2).
// A marker first flushes the open chunk, so in the file every marker sits
// exactly between the events before and after it. A gap in the sequence
// numbers also starts a new chunk (chunks cover contiguous ranges).
//
// Once a write fails, the writer keeps accepting calls, writes nothing more,
// and counts what it dropped; Close() records the trace as incomplete if it
// still can. The recorder relies on this: a full disk must never stop the
// program being recorded.
//
// Not thread-safe: one writer thread owns it.

#ifndef SLABTRACE_PROTO_TRACE_WRITER_H_
#define SLABTRACE_PROTO_TRACE_WRITER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "proto/event.h"
#include "proto/trace.pb.h"

namespace slabtrace {

struct TraceWriterOptions {
  uint32_t events_per_chunk = 64 * 1024;
  // 1 encodes ~45% faster than 3 for ~2% more bytes on Redis-like traffic
  // (proto/README.md); the recorder must keep up with the program.
  int zstd_level = 1;
};

class TraceWriter {
 public:
  // Creates (truncates) `path` and writes the header. `header` gets its
  // format_version set by the writer.
  static absl::StatusOr<std::unique_ptr<TraceWriter>> Create(
      const std::string& path, const TraceHeader& header,
      const TraceWriterOptions& options = {});
  // Same over an open file descriptor, which the writer then owns; `name` is
  // used in error messages.
  static absl::StatusOr<std::unique_ptr<TraceWriter>> CreateFromFd(
      int fd, const std::string& name, const TraceHeader& header,
      const TraceWriterOptions& options = {});

  ~TraceWriter();  // Closes the file; does not write a trailer.

  // Appends one event (its `slab` field is ignored). Returns the first write
  // error once, then OkStatus for dropped events (see dropped_events()).
  absl::Status Append(const Event& event);
  // Appends `events` in order exactly as Append() on each would (the same
  // file, the same counts) and returns the first error among them. Cheaper
  // per event: runs of valid, consecutive events are checked in one pass and
  // copied in bulk (the recorder's writer thread hands over 1,024 at once).
  absl::Status AppendBatch(absl::Span<const Event> events);
  // Flushes the open chunk, then writes the marker record.
  absl::Status AddMarker(const Marker& marker);
  // Writes the open chunk now (the recorder does this periodically so that a
  // killed process loses at most a few milliseconds of events).
  absl::Status Flush();
  // Flushes, fills in the totals, max_live_objects (the peak of allocs -
  // frees over the appended events) and chunk index of `trailer` (the caller
  // sets calls_by_api, threads, dropped counts of its own and the like),
  // writes it and the footer, and closes the file.
  absl::Status Close(TraceTrailer trailer = {});

  uint64_t events_appended() const;
  uint64_t dropped_events() const;
  uint64_t bytes_written() const;
  bool failed() const;  // a write has failed; nothing more gets written.

 private:
  class Impl;
  explicit TraceWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace slabtrace

#endif  // SLABTRACE_PROTO_TRACE_WRITER_H_
