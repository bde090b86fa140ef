#include "proto/trace_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "proto/internal/column_frames.h"
#include "proto/internal/crc32c.h"
#include "proto/internal/event_columns.h"
#include "proto/internal/frame.h"
#include "proto/slab_geometry.h"
#include "proto/trace_format.h"

namespace slabtrace {
namespace {

// +1 for an allocation, -1 for a free, 0 for a resize (the object lives
// on): the step of the live-object count behind max_live_objects.
inline int64_t LiveDelta(uint8_t kind) {
  return int64_t{kind == static_cast<uint8_t>(EventKind::kAlloc)} -
         int64_t{kind == static_cast<uint8_t>(EventKind::kFree)};
}

// Map fields (metadata, stats extras) would otherwise come out in hash
// order: the same trace must give the same bytes.
void SerializeDeterministic(const google::protobuf::MessageLite& message,
                            size_t size, uint8_t* out) {
  google::protobuf::io::ArrayOutputStream array(out, static_cast<int>(size));
  google::protobuf::io::CodedOutputStream coded(&array);
  coded.SetSerializationDeterministic(true);
  message.SerializeWithCachedSizes(&coded);
}

// The reference coding needs the slab geometry; a header whose geometry
// SlabGeometry refuses (which no reader can read either) is still written,
// in the classic coding.
internal::ChunkEncoder MakeEncoder(const TraceHeader& header) {
  absl::StatusOr<SlabGeometry> geometry = SlabGeometry::Create(header);
  if (geometry.ok()) return internal::ChunkEncoder(*geometry);
  std::vector<uint64_t> sizes;
  for (const SizeClass& c : header.size_classes()) sizes.push_back(c.size());
  return internal::ChunkEncoder(std::move(sizes));
}

}  // namespace

class TraceWriter::Impl {
 public:
  Impl(int fd, std::string name, const TraceHeader& header,
       const TraceWriterOptions& options);
  ~Impl();

  absl::Status WriteStart();
  absl::Status Append(const Event& event);
  absl::Status AppendBatch(absl::Span<const Event> events);
  absl::Status AddMarker(const Marker& marker);
  absl::Status Flush();
  absl::Status Close(TraceTrailer trailer);

  uint64_t events_appended() const { return events_appended_; }
  uint64_t dropped_events() const { return dropped_events_; }
  uint64_t bytes_written() const { return bytes_written_; }
  bool failed() const { return failed_; }

 private:
  // Appends a frame for a record with `fields` and `payload` to record_.
  void StartRecord(format::RecordType type, size_t fields_bytes,
                   size_t payload_bytes);
  void FinishRecord();
  absl::Status WriteMessageRecord(format::RecordType type,
                                  const google::protobuf::MessageLite& message);
  // Writes record_ in full, or fails the writer.
  absl::Status WriteRecordBuffer();
  absl::Status Fail(absl::Status status);

  int fd_;
  const std::string name_;
  TraceHeader header_;
  const TraceWriterOptions options_;
  uint64_t time_resolution_ns_;
  int num_classes_;

  // Adds events that passed Append's checks and follow the open chunk's
  // (all of them, when the chunk is empty) to the open chunk, flushing it
  // when it is full or when its reference coding meets an event it cannot
  // express past its kept events. Sets *taken to how many it added: all,
  // unless a flush failed; the caller accounts for the rest.
  absl::Status AddToChunk(absl::Span<const Event> events, size_t* taken);
  // Codes the events Append() collected.
  absl::Status DrainInbox();
  // Writes the open chunk, whose events are all in it (not in the inbox).
  absl::Status FlushChunk();
  bool chunk_open() const { return open_count_ > 0 || !inbox_.empty(); }

  // The open chunk: open_count_ events from open_first_seq_. In the
  // reference coding they are coded as they arrive (open_refs_); in the
  // classic coding, which needs the whole chunk, they wait in pending_.
  uint32_t open_count_ = 0;
  uint64_t open_first_seq_ = 0;
  uint64_t last_seq_ = 0;  // of the last event accepted.
  // Events from Append(), coded a batch at a time (a call per event into
  // the coder cost a quarter of the writer's time); they belong to the
  // open chunk.
  static constexpr size_t kInboxEvents = 1024;
  std::vector<Event> inbox_;
  bool open_refs_ = false;
  // The reference coding met an event it cannot express: the chunk that
  // starts with it is coded the classic way.
  bool next_chunk_classic_ = false;
  // A reference-coded chunk keeps copies of its first kKeptRefEvents
  // events, so that a misfit right after them or earlier turns the whole
  // chunk classic instead of ending it (a trace whose pointers start no
  // regions then gets the chunks it got when chunks were coded whole).
  static constexpr uint32_t kKeptRefEvents = 4096;
  std::vector<Event> pending_;
  std::array<uint64_t, kNumEventKinds> pending_kinds_{};
  uint64_t pending_pointer_bits_ = 0;  // OR of pending_'s pointers.
  internal::ChunkEncoder encoder_;
  ZSTD_CCtx* cctx_ = nullptr;
  std::vector<uint8_t> payload_scratch_;  // PackChunkPayload's.
  internal::ByteBuffer record_;
  size_t record_start_ = 0;

  uint64_t events_appended_ = 0;
  uint64_t events_written_ = 0;
  uint64_t dropped_events_ = 0;
  uint64_t bytes_written_ = 0;
  uint64_t markers_written_ = 0;
  uint64_t last_time_ns_ = 0;
  // Allocs - frees over the events appended so far, and its maximum: the
  // trailer's max_live_objects. Signed: a trace may start with frees of
  // blocks allocated before recording began.
  int64_t live_objects_ = 0;
  int64_t max_live_objects_ = 0;
  std::array<uint64_t, kNumEventKinds> kinds_written_{};
  std::vector<ChunkIndexEntry> chunks_;
  bool failed_ = false;
  bool closed_ = false;
  absl::Status first_error_;
};

TraceWriter::Impl::Impl(int fd, std::string name, const TraceHeader& header,
                        const TraceWriterOptions& options)
    : fd_(fd),
      name_(std::move(name)),
      header_(header),
      options_{std::clamp<uint32_t>(options.events_per_chunk, 1,
                                    format::kMaxChunkEvents),
               options.zstd_level},
      encoder_(MakeEncoder(header)),
      cctx_(ZSTD_createCCtx()) {
  header_.set_format_version(format::kFormatVersion);
  if (header_.time_resolution_ns() == 0) {
    header_.set_time_resolution_ns(format::kDefaultTimeResolutionNs);
  }
  time_resolution_ns_ = header_.time_resolution_ns();
  num_classes_ = header_.size_classes_size();
  if (!encoder_.ref_coding()) pending_.reserve(options_.events_per_chunk);
  inbox_.reserve(kInboxEvents);
  if (cctx_ != nullptr) {
    ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel, options_.zstd_level);
  }
}

TraceWriter::Impl::~Impl() {
  if (fd_ >= 0) ::close(fd_);
  ZSTD_freeCCtx(cctx_);
}

absl::Status TraceWriter::Impl::Fail(absl::Status status) {
  if (!failed_) {
    failed_ = true;
    first_error_ = status;
  }
  return status;
}

absl::Status TraceWriter::Impl::WriteStart() {
  if (cctx_ == nullptr) {
    return Fail(absl::ResourceExhaustedError(
        absl::StrFormat("%s: cannot create a zstd context", name_)));
  }
  record_.assign(format::kMagic, format::kMagic + format::kMagicBytes);
  record_start_ = record_.size();
  const size_t payload = header_.ByteSizeLong();
  StartRecord(format::kHeaderRecord, 0, payload);
  SerializeDeterministic(header_, payload,
                         record_.data() + record_.size() - payload);
  FinishRecord();
  return WriteRecordBuffer();
}

void TraceWriter::Impl::StartRecord(format::RecordType type,
                                    size_t fields_bytes, size_t payload_bytes) {
  const size_t at = record_.size();
  record_start_ = at;
  record_.resize(at + format::kFrameBytes + fields_bytes + payload_bytes);
  record_[at] = type;
  internal::PutLe32(&record_[at + 1], static_cast<uint32_t>(payload_bytes));
}

void TraceWriter::Impl::FinishRecord() {
  const size_t n = record_.size() - record_start_;
  const uint32_t crc = internal::Crc32c(&record_[record_start_], n);
  record_.resize(record_.size() + format::kCrcBytes);
  internal::PutLe32(&record_[record_start_ + n], crc);
}

absl::Status TraceWriter::Impl::WriteMessageRecord(
    format::RecordType type, const google::protobuf::MessageLite& message) {
  record_.clear();
  const size_t payload = message.ByteSizeLong();
  if (payload > format::kMaxRecordPayload) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: record of %d bytes exceeds the format's maximum", name_, payload));
  }
  StartRecord(type, 0, payload);
  SerializeDeterministic(message, payload,
                         record_.data() + record_.size() - payload);
  FinishRecord();
  return WriteRecordBuffer();
}

absl::Status TraceWriter::Impl::WriteRecordBuffer() {
  const uint8_t* p = record_.data();
  size_t left = record_.size();
  while (left > 0) {
    const ssize_t n = ::write(fd_, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = n < 0 ? errno : EIO;
      return Fail(absl::UnavailableError(absl::StrFormat(
          "%s: offset %d: write failed: %s", name_,
          bytes_written_ + (p - record_.data()), strerror(error))));
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  bytes_written_ += record_.size();
  return absl::OkStatus();
}

absl::Status TraceWriter::Impl::Append(const Event& event) {
  if (failed_ || closed_) {
    ++dropped_events_;
    return absl::OkStatus();
  }
  const uint8_t kind = static_cast<uint8_t>(event.kind);
  if (kind >= kNumEventKinds ||
      static_cast<uint8_t>(event.api) >= kNumAllocApis ||
      event.size_class >= num_classes_) {
    ++dropped_events_;
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: event %d: kind %d, api %d or size class %d out of range", name_,
        event.seq, kind, static_cast<int>(event.api), event.size_class));
  }
  if (chunk_open() && event.seq != last_seq_ + 1) {
    if (event.seq <= last_seq_) {
      ++dropped_events_;
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: event seq %d after %d: sequence numbers must increase", name_,
          event.seq, last_seq_));
    }
    absl::Status status = Flush();
    if (!status.ok()) {
      ++dropped_events_;
      return status;
    }
  } else if (!chunk_open() && !chunks_.empty()) {
    const ChunkIndexEntry& last = chunks_.back();
    if (event.seq < last.first_seq() + last.event_count()) {
      ++dropped_events_;
      return absl::InvalidArgumentError(
          absl::StrFormat("%s: event seq %d: sequence numbers must increase",
                          name_, event.seq));
    }
  }
  ++events_appended_;
  live_objects_ += LiveDelta(kind);
  max_live_objects_ = std::max(max_live_objects_, live_objects_);
  last_time_ns_ = std::max(last_time_ns_, event.time_ns);
  last_seq_ = event.seq;
  inbox_.push_back(event);
  // A chunk is written by the call that completes it, as Flush() would.
  if (inbox_.size() >= kInboxEvents ||
      open_count_ + inbox_.size() >= options_.events_per_chunk) {
    return DrainInbox();
  }
  return absl::OkStatus();
}

absl::Status TraceWriter::Impl::DrainInbox() {
  if (inbox_.empty()) return absl::OkStatus();
  size_t taken = 0;
  absl::Status status = AddToChunk(inbox_, &taken);
  // What a failed write left over is dropped, as Append drops every event
  // after a failure.
  const size_t left = inbox_.size() - taken;
  events_appended_ -= left;
  dropped_events_ += left;
  inbox_.clear();
  return status;
}

absl::Status TraceWriter::Impl::AddToChunk(absl::Span<const Event> events,
                                           size_t* taken_in_all) {
  absl::Status first_error;
  *taken_in_all = 0;
  while (!events.empty() && !failed_ && !closed_) {
    if (open_count_ == 0) {
      open_first_seq_ = events.front().seq;
      open_refs_ = encoder_.ref_coding() && !next_chunk_classic_;
      next_chunk_classic_ = false;
      if (open_refs_) {
        encoder_.StartRefs(time_resolution_ns_, options_.events_per_chunk);
      }
    }
    const absl::Span<const Event> room = events.first(std::min<size_t>(
        events.size(), options_.events_per_chunk - open_count_));
    const size_t taken = open_refs_ ? encoder_.AddRefs(room) : room.size();
    const absl::Span<const Event> added = room.first(taken);
    if (!open_refs_) {
      pending_.insert(pending_.end(), added.begin(), added.end());
    } else if (open_count_ < kKeptRefEvents) {
      const absl::Span<const Event> kept =
          added.first(std::min<size_t>(taken, kKeptRefEvents - open_count_));
      pending_.insert(pending_.end(), kept.begin(), kept.end());
    }
    for (const Event& e : added) {
      ++pending_kinds_[static_cast<uint8_t>(e.kind)];
      pending_pointer_bits_ |= e.ptr;
    }
    open_count_ += static_cast<uint32_t>(taken);
    *taken_in_all += taken;
    events = events.subspan(taken);
    if (taken < room.size()) {
      // All of the chunk at hand: it turns classic (when empty, the chunk
      // to open turns classic).
      next_chunk_classic_ = open_count_ == 0 || pending_.size() < open_count_;
      if (pending_.size() == open_count_) {
        open_refs_ = false;
        continue;
      }
    }
    if (open_count_ >= options_.events_per_chunk || next_chunk_classic_) {
      absl::Status status = FlushChunk();
      if (first_error.ok()) first_error = status;
    }
  }
  return first_error;
}

absl::Status TraceWriter::Impl::AppendBatch(absl::Span<const Event> events) {
  absl::Status first_error;
  size_t i = 0;
  while (i < events.size()) {
    // The fast path needs an open chunk to continue (Append checks a
    // chunk's first event against the previous chunk) and a working file.
    size_t run = 0;
    if (chunk_open() && !failed_ && !closed_) {
      // The longest run of events that Append would each accept without a
      // flush before them: in range, consecutive, room in the chunk.
      const size_t limit =
          std::min(events.size() - i,
                   options_.events_per_chunk - open_count_ - inbox_.size());
      uint64_t next_seq = last_seq_ + 1;
      uint64_t last_time = last_time_ns_;
      int64_t live = live_objects_;
      int64_t max_live = max_live_objects_;
      for (; run < limit; ++run) {
        const Event& e = events[i + run];
        const uint8_t kind = static_cast<uint8_t>(e.kind);
        if (kind >= kNumEventKinds ||
            static_cast<uint8_t>(e.api) >= kNumAllocApis ||
            e.size_class >= num_classes_ || e.seq != next_seq) {
          break;
        }
        ++next_seq;
        live += LiveDelta(kind);
        max_live = std::max(max_live, live);
        last_time = std::max(last_time, e.time_ns);
      }
      live_objects_ = live;
      max_live_objects_ = max_live;
      last_time_ns_ = last_time;
      last_seq_ = next_seq - 1;
      absl::Status status = DrainInbox();
      if (first_error.ok()) first_error = status;
      size_t taken = 0;
      status = AddToChunk(events.subspan(i, run), &taken);
      if (first_error.ok()) first_error = status;
      // After a failed write, Append drops the rest one by one.
      events_appended_ += taken;
      i += taken;
      if (taken < run) continue;
    }
    if (run == 0 && i < events.size()) {  // whatever needs Append's care.
      absl::Status status = Append(events[i++]);
      if (first_error.ok()) first_error = status;
    }
  }
  return first_error;
}

absl::Status TraceWriter::Impl::Flush() {
  absl::Status status = DrainInbox();
  absl::Status flushed = FlushChunk();
  return status.ok() ? flushed : status;
}

absl::Status TraceWriter::Impl::FlushChunk() {
  if (open_count_ == 0 || failed_ || closed_) return absl::OkStatus();
  if (open_refs_) {
    encoder_.FinishRefs();
  } else {
    // Classic chunks are those the reference coding could not express.
    encoder_.EncodeClassic(pending_, time_resolution_ns_,
                           pending_pointer_bits_);
  }
  pending_pointer_bits_ = 0;
  const size_t bound =
      internal::ChunkPayloadBound(encoder_.data(), encoder_.size());
  record_.clear();
  StartRecord(format::kChunkRecord, format::kChunkFieldsBytes, bound);
  uint8_t* fields = &record_[record_start_ + format::kFrameBytes];
  uint8_t* payload = fields + format::kChunkFieldsBytes;
  const absl::StatusOr<internal::ChunkPayload> compressed =
      internal::PackChunkPayload(cctx_, encoder_.data(), encoder_.size(),
                                 payload, bound, &payload_scratch_);
  const uint64_t first_seq = open_first_seq_;
  const uint32_t count = open_count_;
  if (!compressed.ok()) {
    dropped_events_ += count;
    pending_.clear();
    pending_kinds_ = {};
    open_count_ = 0;
    return Fail(absl::InternalError(
        absl::StrFormat("%s: %s", name_, compressed.status().message())));
  }
  record_.resize(record_.size() - bound + compressed->bytes);
  internal::PutLe32(&record_[record_start_ + 1],
                    static_cast<uint32_t>(compressed->bytes));
  internal::PutLe32(fields, static_cast<uint32_t>(encoder_.size()));
  internal::PutLe32(fields + 4, count);
  internal::PutLe64(fields + 8, first_seq);
  internal::PutLe32(
      fields + 16,
      encoder_.flags() |
          (compressed->column_frames ? format::kChunkColumnFrames : 0));
  FinishRecord();

  const uint64_t offset = bytes_written_;
  absl::Status status = WriteRecordBuffer();
  if (status.ok()) {
    ChunkIndexEntry entry;
    entry.set_offset(offset);
    entry.set_first_seq(first_seq);
    entry.set_event_count(count);
    chunks_.push_back(entry);
    events_written_ += count;
    for (int k = 0; k < kNumEventKinds; ++k)
      kinds_written_[k] += pending_kinds_[k];
  } else {
    dropped_events_ += count;
  }
  pending_.clear();
  pending_kinds_ = {};
  open_count_ = 0;
  return status;
}

absl::Status TraceWriter::Impl::AddMarker(const Marker& marker) {
  if (failed_ || closed_) return absl::OkStatus();
  absl::Status status = Flush();
  if (!status.ok()) return status;
  status = WriteMessageRecord(format::kMarkerRecord, marker);
  if (status.ok()) {
    ++markers_written_;
    last_time_ns_ = std::max(last_time_ns_, marker.time_ns());
  }
  return status;
}

absl::Status TraceWriter::Impl::Close(TraceTrailer trailer) {
  if (closed_) return absl::FailedPreconditionError(name_ + ": already closed");
  absl::Status flushed = Flush();
  (void)flushed;  // a failure is in first_error_ and reported below.
  closed_ = true;
  trailer.set_event_count(events_written_);
  trailer.set_chunk_count(chunks_.size());
  trailer.set_marker_count(markers_written_);
  auto& by_kind = *trailer.mutable_events_by_kind();
  by_kind.clear();
  for (int k = 0; k < kNumEventKinds; ++k) {  // zeros too: readers index it.
    by_kind[std::string(EventKindName(static_cast<EventKind>(k)))] =
        kinds_written_[k];
  }
  trailer.set_max_live_objects(static_cast<uint64_t>(max_live_objects_));
  trailer.set_dropped_events(trailer.dropped_events() + dropped_events_);
  trailer.set_end_time_ns(std::max(trailer.end_time_ns(), last_time_ns_));
  trailer.mutable_chunks()->Clear();
  for (const ChunkIndexEntry& entry : chunks_) *trailer.add_chunks() = entry;
  if (failed_) {
    trailer.set_complete(false);
    trailer.set_incomplete_reason(absl::StrFormat(
        "%s; %d events dropped", first_error_.message(), dropped_events_));
    // A failed write may have left a torn record: cut back to the last
    // whole one, then try once more to say what happened.
    if (::ftruncate(fd_, static_cast<off_t>(bytes_written_)) == 0 &&
        ::lseek(fd_, static_cast<off_t>(bytes_written_), SEEK_SET) >= 0) {
      failed_ = false;
    }
  } else {
    trailer.set_complete(trailer.incomplete_reason().empty());
  }
  absl::Status status = absl::OkStatus();
  if (!failed_) {
    const uint64_t trailer_offset = bytes_written_;
    record_.clear();
    const size_t payload = trailer.ByteSizeLong();
    StartRecord(format::kTrailerRecord, 0, payload);
    SerializeDeterministic(trailer, payload,
                           record_.data() + record_.size() - payload);
    FinishRecord();
    const size_t footer = record_.size();
    record_.resize(footer + format::kFooterBytes);
    internal::PutLe64(&record_[footer], trailer_offset);
    std::memcpy(&record_[footer + 8], format::kFooterMagic, 8);
    status = WriteRecordBuffer();
  }
  if (::close(fd_) != 0 && status.ok() && first_error_.ok()) {
    status = absl::UnavailableError(
        absl::StrFormat("%s: close failed: %s", name_, strerror(errno)));
  }
  fd_ = -1;
  if (!first_error_.ok()) {
    return absl::DataLossError(
        absl::StrFormat("%s: trace incomplete (%d events dropped): %s", name_,
                        dropped_events_, first_error_.message()));
  }
  return status;
}

TraceWriter::TraceWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TraceWriter::~TraceWriter() = default;

absl::StatusOr<std::unique_ptr<TraceWriter>> TraceWriter::Create(
    const std::string& path, const TraceHeader& header,
    const TraceWriterOptions& options) {
  const int fd =
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::NotFoundError(
        absl::StrFormat("%s: cannot create: %s", path, strerror(errno)));
  }
  return CreateFromFd(fd, path, header, options);
}

absl::StatusOr<std::unique_ptr<TraceWriter>> TraceWriter::CreateFromFd(
    int fd, const std::string& name, const TraceHeader& header,
    const TraceWriterOptions& options) {
  auto impl = std::make_unique<Impl>(fd, name, header, options);
  absl::Status status = impl->WriteStart();
  if (!status.ok()) return status;
  return std::unique_ptr<TraceWriter>(new TraceWriter(std::move(impl)));
}

absl::Status TraceWriter::Append(const Event& event) {
  return impl_->Append(event);
}

absl::Status TraceWriter::AppendBatch(absl::Span<const Event> events) {
  return impl_->AppendBatch(events);
}
absl::Status TraceWriter::AddMarker(const Marker& marker) {
  return impl_->AddMarker(marker);
}
absl::Status TraceWriter::Flush() { return impl_->Flush(); }
absl::Status TraceWriter::Close(TraceTrailer trailer) {
  return impl_->Close(std::move(trailer));
}
uint64_t TraceWriter::events_appended() const {
  return impl_->events_appended();
}
uint64_t TraceWriter::dropped_events() const { return impl_->dropped_events(); }
uint64_t TraceWriter::bytes_written() const { return impl_->bytes_written(); }
bool TraceWriter::failed() const { return impl_->failed(); }

}  // namespace slabtrace
