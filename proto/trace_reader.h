// TraceReader streams a slabtrace file: the header first, then events and
// markers in recorded order, then the trailer. Memory stays constant (one
// decompressed chunk and one run of its decoded events at a time) whatever
// the file size.
//
// Every failure is an absl::Status whose message names the file, the byte
// offset and the reason, e.g.
//   "r.slabtrace: offset 1234: chunk checksum mismatch".
// A file that simply ends early (the recorder was killed, or the copy was
// cut) is not an error: reading stops after the last whole record and
// warnings() says where and why. Corruption inside a record always is an
// error; nothing is silently skipped.

#ifndef SLABTRACE_PROTO_TRACE_READER_H_
#define SLABTRACE_PROTO_TRACE_READER_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "proto/event.h"
#include "proto/slab_geometry.h"
#include "proto/trace.pb.h"

namespace slabtrace {

// One step of the stream: a run of consecutive events or one marker.
struct TraceRecord {
  enum class Type { kEvents, kMarker };
  Type type = Type::kEvents;
  // kEvents: valid until the next call to Next(). Each event's `slab` is
  // filled in from the header geometry. A chunk of the file comes out as
  // one or more runs (of up to 1,024 events, decoded while the caller
  // reads the previous one's), never empty; runs of one chunk share
  // `offset`. Markers still sit exactly between the events around them.
  absl::Span<const Event> events;
  // kEvents: how many of `events` are of each kind (indexed by EventKind),
  // and the largest `thread` among them, so that a caller needs no pass of
  // its own to count them. Zero for markers.
  std::array<uint32_t, kNumEventKinds> kind_counts{};
  uint32_t max_thread = 0;
  // kMarker: valid until the next call to Next().
  const Marker* marker = nullptr;
  uint64_t offset = 0;  // file offset of the record (the chunk).
};

class TraceReader {
 public:
  // Opens `path` and reads its header, and its trailer when the file ends
  // with a footer (see early_trailer()).
  static absl::StatusOr<std::unique_ptr<TraceReader>> Open(
      const std::string& path);
  // Reads from memory that outlives the reader (tests, the fuzzer); `name`
  // stands for the file name in messages.
  static absl::StatusOr<std::unique_ptr<TraceReader>> OpenBuffer(
      const std::string& name, absl::string_view data);

  ~TraceReader();

  const TraceHeader& header() const;
  const SlabGeometry& geometry() const;

  // Reads the next record into *record. Returns false at the end of the
  // stream (after the trailer, or at a truncation, see warnings()). An
  // error is final: later calls return it again. A chunk whose columns are
  // malformed (possible only if its checksum matches, i.e. a writer bug)
  // fails at the run that holds the first bad value; the runs before it
  // have been handed out.
  absl::StatusOr<bool> Next(TraceRecord* record);

  // After Next() returned false: the trailer, if the file had one.
  const std::optional<TraceTrailer>& trailer() const;
  // From Open on: the trailer found through the footer, when the file ends
  // with one that points to a whole trailer record (checksum and protobuf
  // checked) ending right at the footer; else empty (no footer, a truncated
  // or damaged file). A hint for sizing tables before the first event
  // (e.g. its max_live_objects): the stream is checked against the trailer
  // only when Next() reaches it, and every problem with the footer or the
  // trailer is reported then, exactly as without this.
  const std::optional<TraceTrailer>& early_trailer() const;
  // Human-readable, one line each: truncation, missing trailer, trailer
  // totals that disagree with what was read.
  const std::vector<std::string>& warnings() const;

  uint64_t file_size() const;
  uint64_t bytes_read() const;   // progress; counts a chunk when it starts.
  uint64_t chunks_read() const;  // chunks whose events were all handed out.
  uint64_t events_read() const;
  const std::string& name() const;

 private:
  class Impl;
  explicit TraceReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace slabtrace

#endif  // SLABTRACE_PROTO_TRACE_READER_H_
