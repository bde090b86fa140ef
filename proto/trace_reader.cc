#include "proto/trace_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/stubs/logging.h"
#include "proto/internal/column_frames.h"
#include "proto/internal/crc32c.h"
#include "proto/internal/event_columns.h"
#include "proto/internal/frame.h"
#include "proto/trace_format.h"

namespace slabtrace {
namespace {

// Events handed out per TraceRecord: 48 KB of Events, which the caller reads
// from L1/L2. A multiple of ChunkDecoder::kBlockEvents, so that a malformed
// chunk reports the same first error as decoding it whole would.
constexpr uint32_t kBatchEvents = 1024;
static_assert(kBatchEvents % internal::ChunkDecoder::kBlockEvents == 0);

// "53120000" -> "53,120,000": warnings are read by people.
std::string WithCommas(uint64_t n) {
  std::string digits = absl::StrCat(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

// Parses a record payload without protobuf's own logging: a bad record is
// reported once, by the caller, as "<file>: offset N: reason".
bool ParseQuietly(google::protobuf::MessageLite* message, const uint8_t* data,
                  uint32_t size) {
  google::protobuf::LogSilencer silence;
  return message->ParseFromArray(data, static_cast<int>(size));
}

absl::string_view RecordTypeName(uint8_t type) {
  switch (type) {
    case format::kHeaderRecord:
      return "header";
    case format::kChunkRecord:
      return "chunk";
    case format::kMarkerRecord:
      return "marker";
    case format::kTrailerRecord:
      return "trailer";
  }
  return "unknown";
}

// Random access to the file's bytes in increasing offsets. A returned
// pointer stays valid until the next Read().
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual uint64_t size() const = 0;
  // Requires offset + n <= size().
  virtual absl::StatusOr<const uint8_t*> Read(uint64_t offset, size_t n) = 0;
};

class BufferSource : public ByteSource {
 public:
  explicit BufferSource(absl::string_view data) : data_(data) {}
  uint64_t size() const override { return data_.size(); }
  absl::StatusOr<const uint8_t*> Read(uint64_t offset, size_t) override {
    return reinterpret_cast<const uint8_t*>(data_.data()) + offset;
  }

 private:
  absl::string_view data_;
};

// Reads with pread() in blocks of at least kBlockBytes into one window that
// slides forward; only a record larger than a block grows it.
class FileSource : public ByteSource {
 public:
  static constexpr size_t kBlockBytes = 4 << 20;
  FileSource(int fd, uint64_t size, std::string name)
      : fd_(fd), size_(size), name_(std::move(name)) {}
  ~FileSource() override { ::close(fd_); }
  uint64_t size() const override { return size_; }

  absl::StatusOr<const uint8_t*> Read(uint64_t offset, size_t n) override {
    if (offset >= window_offset_ &&
        offset + n <= window_offset_ + window_size_) {
      return window_.data() + (offset - window_offset_);
    }
    const size_t want = static_cast<size_t>(
        std::min<uint64_t>(std::max(n, kBlockBytes), size_ - offset));
    if (window_.size() < want) window_.resize(want);
    window_offset_ = offset;
    window_size_ = 0;
    while (window_size_ < want) {
      const ssize_t got =
          ::pread(fd_, window_.data() + window_size_, want - window_size_,
                  static_cast<off_t>(offset + window_size_));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        const std::string reason =
            got < 0 ? strerror(errno) : "file shrank while reading";
        const uint64_t at = offset + window_size_;
        window_size_ = 0;
        return absl::DataLossError(absl::StrFormat(
            "%s: offset %d: read failed: %s", name_, at, reason));
      }
      window_size_ += static_cast<size_t>(got);
    }
    return window_.data();
  }

 private:
  int fd_;
  uint64_t size_;
  std::string name_;
  internal::ByteBuffer window_;
  uint64_t window_offset_ = 0;
  size_t window_size_ = 0;
};

}  // namespace

class TraceReader::Impl {
 public:
  Impl(std::string name, std::unique_ptr<ByteSource> source)
      : name_(std::move(name)), source_(std::move(source)) {}
  ~Impl() { ZSTD_freeDCtx(dctx_); }

  absl::Status Start();
  absl::StatusOr<bool> Next(TraceRecord* record);

  const TraceHeader& header() const { return header_; }
  const SlabGeometry& geometry() const { return *geometry_; }
  const std::optional<TraceTrailer>& trailer() const { return trailer_; }
  const std::optional<TraceTrailer>& early_trailer() const {
    return early_trailer_;
  }
  const std::vector<std::string>& warnings() const { return warnings_; }
  uint64_t file_size() const { return source_->size(); }
  uint64_t bytes_read() const { return offset_; }
  uint64_t chunks_read() const { return chunks_read_; }
  uint64_t events_read() const { return events_read_; }
  const std::string& name() const { return name_; }

 private:
  struct Frame {
    uint8_t type = 0;
    uint32_t payload_bytes = 0;
    const uint8_t* fields = nullptr;
    const uint8_t* payload = nullptr;
    uint64_t total_bytes = 0;
  };
  enum class FrameResult { kOk, kTruncated };

  absl::Status Error(uint64_t offset, const std::string& reason) const {
    return absl::DataLossError(
        absl::StrFormat("%s: offset %d: %s", name_, offset, reason));
  }
  void Warn(uint64_t offset, const std::string& reason) {
    warnings_.push_back(
        absl::StrFormat("%s: offset %d: %s", name_, offset, reason));
  }
  absl::Status CheckMagic();
  absl::StatusOr<FrameResult> ReadFrame(uint64_t offset, Frame* frame);
  absl::Status ReadHeader();
  void ReadEarlyTrailer();
  absl::StatusOr<bool> NextRecord(TraceRecord* record);
  // Checks and decompresses a chunk, then hands out its first batch.
  absl::Status DecodeChunk(const Frame& frame, TraceRecord* record);
  // The chunk's columns into uncompressed_[0, uncompressed), from column
  // frames or (older files) one zstd frame.
  absl::Status Decompress(const Frame& frame, uint32_t uncompressed,
                          uint32_t flags);
  // The next batch of the current chunk's events.
  absl::Status NextBatch(TraceRecord* record);
  absl::Status FinishAtTrailer(const Frame& frame);
  void WarnTruncated(uint64_t offset, const std::string& what);
  void Reconcile();
  void Finish() {
    done_ = true;
    if (sequence_gaps_ > 0) {
      Warn(first_gap_offset_,
           absl::StrFormat("%s gaps in the event sequence numbers (first: "
                           "expected seq %d, chunk starts at %d)",
                           WithCommas(sequence_gaps_), first_gap_expected_,
                           first_gap_seq_));
    }
  }

  const std::string name_;
  std::unique_ptr<ByteSource> source_;
  uint64_t data_end_ = 0;  // where records end: before the footer if any.
  bool has_footer_ = false;
  uint64_t footer_trailer_offset_ = 0;

  TraceHeader header_;
  std::optional<SlabGeometry> geometry_;
  std::unique_ptr<internal::ChunkDecoder> decoder_;
  ZSTD_DCtx* dctx_ = nullptr;
  internal::ByteBuffer uncompressed_;
  // One batch of decoded events: small enough to stay in L1/L2 until the
  // caller has read it (a whole 64K-event chunk is 3 MB).
  std::vector<Event> events_;
  uint64_t chunk_offset_ = 0;   // of the chunk the batches come from.
  uint64_t chunk_end_seq_ = 0;  // one past its last event.
  absl::Status error_;          // the first error Next() returned.
  Marker marker_;
  std::optional<TraceTrailer> trailer_;
  std::optional<TraceTrailer> early_trailer_;
  std::vector<std::string> warnings_;

  uint64_t offset_ = 0;
  bool done_ = false;
  uint64_t chunks_read_ = 0;
  uint64_t events_read_ = 0;
  uint64_t markers_read_ = 0;
  std::array<uint64_t, kNumEventKinds> events_by_kind_{};
  uint64_t next_seq_ = 0;
  uint64_t sequence_gaps_ = 0;
  uint64_t first_gap_offset_ = 0;
  uint64_t first_gap_expected_ = 0;
  uint64_t first_gap_seq_ = 0;
  // Digest of (offset, first_seq, event_count) of every chunk read, in
  // order, to check the trailer's chunk index in constant memory.
  uint64_t chunk_index_digest_ = 0;
};

namespace {

// One step of the chunk index digest (splitmix64's finaliser over each
// field): order-sensitive, so a swapped or shifted entry changes it.
uint64_t DigestChunk(uint64_t digest, uint64_t offset, uint64_t first_seq,
                     uint64_t event_count) {
  for (const uint64_t field : {offset, first_seq, event_count}) {
    uint64_t z = digest ^ field;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    digest = z ^ (z >> 31);
  }
  return digest;
}

}  // namespace

absl::Status TraceReader::Impl::CheckMagic() {
  const uint64_t size = source_->size();
  const size_t n =
      static_cast<size_t>(std::min<uint64_t>(size, format::kMagicBytes));
  absl::StatusOr<const uint8_t*> bytes = source_->Read(0, n);
  if (!bytes.ok()) return bytes.status();
  const char* p = reinterpret_cast<const char*>(*bytes);
  const size_t prefix = std::min(n, format::kMagicVersionByte);
  if (size == 0) return Error(0, "empty file, not a slabtrace file");
  if (std::memcmp(p, format::kMagic, prefix) != 0) {
    return Error(0, "not a slabtrace file (bad magic)");
  }
  if (n < format::kMagicBytes) {
    return Error(n, "truncated record: file ends inside the magic");
  }
  const char version = p[format::kMagicVersionByte];
  if (version > format::kMagic[format::kMagicVersionByte] && version <= '9') {
    return Error(format::kMagicVersionByte,
                 absl::StrFormat("format version %c is newer than supported "
                                 "(%d); upgrade slabtrace",
                                 version, format::kFormatVersion));
  }
  if (version != format::kMagic[format::kMagicVersionByte]) {
    return Error(0, "not a slabtrace file (bad magic)");
  }
  data_end_ = size;
  if (size >= format::kMagicBytes + format::kFooterBytes) {
    const uint64_t at = size - format::kFooterBytes;
    absl::StatusOr<const uint8_t*> footer =
        source_->Read(at, format::kFooterBytes);
    if (!footer.ok()) return footer.status();
    if (std::memcmp(*footer + 8, format::kFooterMagic, 8) == 0) {
      has_footer_ = true;
      footer_trailer_offset_ = internal::GetLe64(*footer);
      data_end_ = at;
    }
  }
  offset_ = format::kMagicBytes;
  return absl::OkStatus();
}

absl::StatusOr<TraceReader::Impl::FrameResult> TraceReader::Impl::ReadFrame(
    uint64_t offset, Frame* frame) {
  const uint64_t remaining = data_end_ - offset;
  if (remaining < format::kFrameBytes) {
    if (has_footer_)
      return Error(offset, "truncated record: frame runs into the footer");
    return FrameResult::kTruncated;
  }
  absl::StatusOr<const uint8_t*> head =
      source_->Read(offset, format::kFrameBytes);
  if (!head.ok()) return head.status();
  frame->type = (*head)[0];
  frame->payload_bytes = internal::GetLe32(*head + 1);
  if (frame->type < format::kHeaderRecord ||
      frame->type > format::kTrailerRecord) {
    return Error(offset,
                 absl::StrFormat("unknown record type %d", frame->type));
  }
  if (frame->payload_bytes > format::kMaxRecordPayload) {
    return Error(offset, absl::StrFormat(
                             "%s record length %d exceeds the maximum %d",
                             RecordTypeName(frame->type), frame->payload_bytes,
                             format::kMaxRecordPayload));
  }
  const size_t fields =
      frame->type == format::kChunkRecord ? format::kChunkFieldsBytes : 0;
  frame->total_bytes =
      format::kFrameBytes + fields + frame->payload_bytes + format::kCrcBytes;
  if (frame->total_bytes > remaining) {
    if (has_footer_) {
      return Error(
          offset,
          absl::StrFormat("truncated record: %s record of %d bytes runs "
                          "past the trailer's footer",
                          RecordTypeName(frame->type), frame->total_bytes));
    }
    return FrameResult::kTruncated;
  }
  absl::StatusOr<const uint8_t*> bytes =
      source_->Read(offset, static_cast<size_t>(frame->total_bytes));
  if (!bytes.ok()) return bytes.status();
  const size_t covered =
      static_cast<size_t>(frame->total_bytes) - format::kCrcBytes;
  const uint32_t stored = internal::GetLe32(*bytes + covered);
  // Fuzz builds skip the check so mutations reach the decoders behind it.
#ifndef SLABTRACE_FUZZ
  if (internal::Crc32c(*bytes, covered) != stored) {
    return Error(offset, absl::StrFormat("%s record checksum mismatch",
                                         RecordTypeName(frame->type)));
  }
#else
  (void)stored;
#endif
  frame->fields = *bytes + format::kFrameBytes;
  frame->payload = frame->fields + fields;
  return FrameResult::kOk;
}

absl::Status TraceReader::Impl::ReadHeader() {
  Frame frame;
  absl::StatusOr<FrameResult> result = ReadFrame(offset_, &frame);
  if (!result.ok()) return result.status();
  if (*result == FrameResult::kTruncated) {
    return Error(offset_, "truncated record: file ends inside the header");
  }
  if (frame.type != format::kHeaderRecord) {
    return Error(offset_, absl::StrFormat("expected the header record, found a "
                                          "%s record",
                                          RecordTypeName(frame.type)));
  }
  if (!ParseQuietly(&header_, frame.payload, frame.payload_bytes)) {
    return Error(offset_, "malformed header record (protobuf does not parse)");
  }
  if (header_.format_version() > format::kFormatVersion) {
    return Error(
        offset_,
        absl::StrFormat("format version %d is newer than supported "
                        "(%d); upgrade slabtrace",
                        header_.format_version(), format::kFormatVersion));
  }
  if (header_.format_version() == 0) {
    return Error(offset_, "malformed header record: format_version 0");
  }
  if (header_.time_resolution_ns() == 0) {
    return Error(offset_, "malformed header record: time_resolution_ns 0");
  }
  absl::StatusOr<SlabGeometry> geometry = SlabGeometry::Create(header_);
  if (!geometry.ok()) {
    return Error(offset_, absl::StrCat("unsupported size-class table: ",
                                       geometry.status().message()));
  }
  geometry_ = std::move(*geometry);
  decoder_ = std::make_unique<internal::ChunkDecoder>(
      &*geometry_, header_.time_resolution_ns());
  dctx_ = ZSTD_createDCtx();
  if (dctx_ == nullptr) {
    return absl::ResourceExhaustedError(name_ +
                                        ": cannot create a zstd context");
  }
  offset_ += frame.total_bytes;
  return absl::OkStatus();
}

// Reads the trailer the footer points to, without reporting anything: a
// footer or trailer that does not check out leaves early_trailer_ empty,
// and the stream reports the problem when it gets there, as it always has.
void TraceReader::Impl::ReadEarlyTrailer() {
  if (!has_footer_ || footer_trailer_offset_ < offset_ ||
      footer_trailer_offset_ >= data_end_) {
    return;
  }
  Frame frame;
  absl::StatusOr<FrameResult> result =
      ReadFrame(footer_trailer_offset_, &frame);
  if (!result.ok() || *result != FrameResult::kOk ||
      frame.type != format::kTrailerRecord ||
      footer_trailer_offset_ + frame.total_bytes != data_end_) {
    return;
  }
  TraceTrailer trailer;
  if (!ParseQuietly(&trailer, frame.payload, frame.payload_bytes)) return;
  early_trailer_ = std::move(trailer);
}

absl::Status TraceReader::Impl::Start() {
  absl::Status status = CheckMagic();
  if (!status.ok()) return status;
  // Before the header: the file source reads forward from there in blocks,
  // so the trailer costs one small read, not a second read of the first
  // block (a file of under one block is in memory already).
  ReadEarlyTrailer();
  return ReadHeader();
}

void TraceReader::Impl::WarnTruncated(uint64_t offset,
                                      const std::string& what) {
  Warn(offset, absl::StrFormat(
                   "trace ends without a trailer (recorder killed?)%s; read %s "
                   "whole chunks, %s events",
                   what, WithCommas(chunks_read_), WithCommas(events_read_)));
}

absl::Status TraceReader::Impl::DecodeChunk(const Frame& frame,
                                            TraceRecord* record) {
  const uint32_t uncompressed = internal::GetLe32(frame.fields);
  const uint32_t count = internal::GetLe32(frame.fields + 4);
  const uint64_t first_seq = internal::GetLe64(frame.fields + 8);
  const uint32_t flags = internal::GetLe32(frame.fields + 16);
  if (count == 0 || count > format::kMaxChunkEvents) {
    return Error(offset_, absl::StrFormat("malformed chunk: %d events", count));
  }
  // Every event takes at least one byte in each column but the thread's;
  // in the reference coding, in its kind, time, class and size columns;
  // with packed kinds, in its class and size columns.
  const uint64_t min_bytes_per_event =
      (flags & format::kChunkPackedKinds) != 0 ? 2
      : (flags & format::kChunkRefCoding) != 0 ? 4
                                               : format::kNumColumns - 1;
  if (uncompressed > format::kMaxUncompressedChunk ||
      uncompressed < uint64_t{count} * min_bytes_per_event) {
    return Error(offset_, absl::StrFormat("malformed chunk: %d bytes for %d "
                                          "events",
                                          uncompressed, count));
  }
  if (first_seq + count < first_seq) {
    return Error(offset_, "malformed chunk: sequence numbers overflow");
  }
  if (chunks_read_ > 0 && first_seq < next_seq_) {
    return Error(offset_, absl::StrFormat(
                              "chunk sequence out of order: starts at seq %d, "
                              "the previous chunk ended at %d",
                              first_seq, next_seq_ - 1));
  }
  if (chunks_read_ > 0 && first_seq > next_seq_ && sequence_gaps_++ == 0) {
    first_gap_offset_ = offset_;
    first_gap_expected_ = next_seq_;
    first_gap_seq_ = first_seq;
  }
  absl::Status status = Decompress(frame, uncompressed, flags);
  if (!status.ok()) return status;
  status = decoder_->Start(uncompressed_.data(), uncompressed, count, first_seq,
                           flags);
  if (!status.ok()) return Error(offset_, std::string(status.message()));
  chunk_offset_ = offset_;
  chunk_end_seq_ = first_seq + count;
  chunk_index_digest_ =
      DigestChunk(chunk_index_digest_, offset_, first_seq, count);
  return NextBatch(record);
}

absl::Status TraceReader::Impl::Decompress(const Frame& frame,
                                           uint32_t uncompressed,
                                           uint32_t flags) {
  if (uncompressed_.size() < uncompressed) uncompressed_.resize(uncompressed);
  if ((flags & format::kChunkColumnFrames) != 0) {
    absl::Status status =
        internal::UnpackColumnFrames(dctx_, frame.payload, frame.payload_bytes,
                                     uncompressed_.data(), uncompressed);
    if (!status.ok()) {
      return Error(offset_,
                   absl::StrCat("malformed chunk: ", status.message()));
    }
    return absl::OkStatus();
  }
  const unsigned long long content =
      ZSTD_getFrameContentSize(frame.payload, frame.payload_bytes);
  if (content != uncompressed) {
    return Error(offset_, absl::StrFormat("malformed chunk: zstd frame content "
                                          "size disagrees with %d",
                                          uncompressed));
  }
  const size_t got =
      ZSTD_decompressDCtx(dctx_, uncompressed_.data(), uncompressed,
                          frame.payload, frame.payload_bytes);
  if (ZSTD_isError(got) || got != uncompressed) {
    return Error(offset_,
                 absl::StrFormat("malformed chunk: zstd: %s",
                                 ZSTD_isError(got) ? ZSTD_getErrorName(got)
                                                   : "short output"));
  }
  return absl::OkStatus();
}

absl::Status TraceReader::Impl::NextBatch(TraceRecord* record) {
  const uint32_t n = std::min(decoder_->remaining(), kBatchEvents);
  if (events_.size() < n) events_.resize(n);
  // The decoder adds to the totals; the run's own counts are the difference.
  const std::array<uint64_t, kNumEventKinds> before = events_by_kind_;
  absl::Status status =
      decoder_->DecodeNext(n, events_.data(), events_by_kind_.data());
  if (!status.ok()) return Error(chunk_offset_, std::string(status.message()));
  for (int k = 0; k < kNumEventKinds; ++k) {
    record->kind_counts[k] =
        static_cast<uint32_t>(events_by_kind_[k] - before[k]);
  }
  record->max_thread = decoder_->max_thread();
  events_read_ += n;
  if (decoder_->remaining() == 0) {
    ++chunks_read_;
    next_seq_ = chunk_end_seq_;
  }
  record->type = TraceRecord::Type::kEvents;
  record->events = absl::MakeConstSpan(events_.data(), n);
  record->marker = nullptr;
  record->offset = chunk_offset_;
  return absl::OkStatus();
}

void TraceReader::Impl::Reconcile() {
  const TraceTrailer& t = *trailer_;
  const uint64_t at = offset_;
  auto compare = [&](const char* what, uint64_t in_trailer, uint64_t read) {
    if (in_trailer != read) {
      Warn(at, absl::StrFormat("trailer says %s %s, the file holds %s", what,
                               WithCommas(in_trailer), WithCommas(read)));
    }
  };
  compare("events", t.event_count(), events_read_);
  compare("chunks", t.chunk_count(), chunks_read_);
  compare("markers", t.marker_count(), markers_read_);
  // An empty index means the writer gave none; otherwise it must list
  // exactly the chunks read.
  if (t.chunks_size() != 0) {
    uint64_t digest = 0;
    for (const ChunkIndexEntry& entry : t.chunks()) {
      digest = DigestChunk(digest, entry.offset(), entry.first_seq(),
                           entry.event_count());
    }
    if (static_cast<uint64_t>(t.chunks_size()) != chunks_read_) {
      Warn(at, absl::StrFormat("trailer's chunk index lists %s chunks, the "
                               "file holds %s",
                               WithCommas(t.chunks_size()),
                               WithCommas(chunks_read_)));
    } else if (digest != chunk_index_digest_) {
      Warn(at,
           "trailer's chunk index disagrees with the chunks read "
           "(an offset, first sequence number or event count differs)");
    }
  }
  for (int k = 0; k < kNumEventKinds; ++k) {
    const std::string kind(EventKindName(static_cast<EventKind>(k)));
    const auto it = t.events_by_kind().find(kind);
    compare(absl::StrCat(kind, " events").c_str(),
            it == t.events_by_kind().end() ? 0 : it->second,
            events_by_kind_[k]);
  }
  if (!t.complete()) {
    Warn(at,
         absl::StrCat("the recorder marked the trace incomplete: ",
                      t.incomplete_reason().empty() ? "no reason given"
                                                    : t.incomplete_reason()));
  }
}

absl::Status TraceReader::Impl::FinishAtTrailer(const Frame& frame) {
  TraceTrailer trailer;
  if (!ParseQuietly(&trailer, frame.payload, frame.payload_bytes)) {
    return Error(offset_, "malformed trailer record (protobuf does not parse)");
  }
  const uint64_t trailer_offset = offset_;
  const uint64_t after = offset_ + frame.total_bytes;
  if (has_footer_) {
    if (after != data_end_) {
      return Error(after, absl::StrFormat("%d unexpected bytes between the "
                                          "trailer and the footer",
                                          data_end_ - after));
    }
    if (footer_trailer_offset_ != trailer_offset) {
      return Error(data_end_,
                   absl::StrFormat("footer points to offset %d but the trailer "
                                   "is at %d",
                                   footer_trailer_offset_, trailer_offset));
    }
  } else if (source_->size() - after >= format::kFooterBytes) {
    return Error(after, "bad footer after the trailer");
  }
  trailer_ = std::move(trailer);
  offset_ = after;
  Reconcile();
  if (!has_footer_) {
    Warn(after, source_->size() == after
                    ? "trace ends after the trailer without its footer"
                    : "trace ends inside the footer");
  } else {
    offset_ = source_->size();
  }
  Finish();
  return absl::OkStatus();
}

absl::StatusOr<bool> TraceReader::Impl::Next(TraceRecord* record) {
  // An error is final: calling again must not resume behind it (the rest of
  // a chunk whose batch failed would otherwise be skipped silently).
  if (!error_.ok()) return error_;
  absl::StatusOr<bool> more = NextRecord(record);
  if (!more.ok()) error_ = more.status();
  return more;
}

absl::StatusOr<bool> TraceReader::Impl::NextRecord(TraceRecord* record) {
  if (decoder_->remaining() > 0) {
    absl::Status status = NextBatch(record);
    if (!status.ok()) return status;
    return true;
  }
  if (done_) return false;
  if (offset_ == data_end_) {
    if (has_footer_)
      return Error(offset_, "the footer is not preceded by a trailer");
    WarnTruncated(offset_, "");
    Finish();
    return false;
  }
  Frame frame;
  absl::StatusOr<FrameResult> result = ReadFrame(offset_, &frame);
  if (!result.ok()) return result.status();
  if (*result == FrameResult::kTruncated) {
    WarnTruncated(offset_, "; the last record is cut short");
    Finish();
    return false;
  }
  switch (frame.type) {
    case format::kChunkRecord: {
      absl::Status status = DecodeChunk(frame, record);
      if (!status.ok()) return status;
      offset_ += frame.total_bytes;
      return true;
    }
    case format::kMarkerRecord:
      if (!ParseQuietly(&marker_, frame.payload, frame.payload_bytes)) {
        return Error(offset_,
                     "malformed marker record (protobuf does not parse)");
      }
      ++markers_read_;
      record->type = TraceRecord::Type::kMarker;
      record->events = {};
      record->kind_counts = {};
      record->max_thread = 0;
      record->marker = &marker_;
      record->offset = offset_;
      offset_ += frame.total_bytes;
      return true;
    case format::kTrailerRecord: {
      absl::Status status = FinishAtTrailer(frame);
      if (!status.ok()) return status;
      return false;
    }
    default:
      return Error(offset_, "a second header record");
  }
}

TraceReader::TraceReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TraceReader::~TraceReader() = default;

absl::StatusOr<std::unique_ptr<TraceReader>> TraceReader::Open(
    const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::NotFoundError(absl::StrFormat("%s: offset 0: cannot open: %s",
                                               path, strerror(errno)));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: offset 0: not a regular file", path));
  }
  auto impl = std::make_unique<Impl>(
      path, std::make_unique<FileSource>(fd, static_cast<uint64_t>(st.st_size),
                                         path));
  absl::Status status = impl->Start();
  if (!status.ok()) return status;
  return std::unique_ptr<TraceReader>(new TraceReader(std::move(impl)));
}

absl::StatusOr<std::unique_ptr<TraceReader>> TraceReader::OpenBuffer(
    const std::string& name, absl::string_view data) {
  auto impl =
      std::make_unique<Impl>(name, std::make_unique<BufferSource>(data));
  absl::Status status = impl->Start();
  if (!status.ok()) return status;
  return std::unique_ptr<TraceReader>(new TraceReader(std::move(impl)));
}

const TraceHeader& TraceReader::header() const { return impl_->header(); }
const SlabGeometry& TraceReader::geometry() const { return impl_->geometry(); }
absl::StatusOr<bool> TraceReader::Next(TraceRecord* record) {
  return impl_->Next(record);
}
const std::optional<TraceTrailer>& TraceReader::trailer() const {
  return impl_->trailer();
}
const std::optional<TraceTrailer>& TraceReader::early_trailer() const {
  return impl_->early_trailer();
}
const std::vector<std::string>& TraceReader::warnings() const {
  return impl_->warnings();
}
uint64_t TraceReader::file_size() const { return impl_->file_size(); }
uint64_t TraceReader::bytes_read() const { return impl_->bytes_read(); }
uint64_t TraceReader::chunks_read() const { return impl_->chunks_read(); }
uint64_t TraceReader::events_read() const { return impl_->events_read(); }
const std::string& TraceReader::name() const { return impl_->name(); }

}  // namespace slabtrace
