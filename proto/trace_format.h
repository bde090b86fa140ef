// Constants of the slabtrace file format, version 1. proto/README.md has the
// byte-level table; this header is the single place the numbers live.
//
//   file    := magic record* [footer]
//   magic   := "SLABTRC1"
//   record  := type:u8 payload_length:u32 fields payload crc32c:u32
//   footer  := trailer_offset:u64 "SLABTEND"
//
// All integers in frames are little-endian, fixed width. The CRC32C covers
// the record from its type byte to the end of its payload. Only chunk
// records have fields (kChunkFieldsBytes); header, marker and trailer
// payloads are serialized TraceHeader, Marker and TraceTrailer messages.

#ifndef SLABTRACE_PROTO_TRACE_FORMAT_H_
#define SLABTRACE_PROTO_TRACE_FORMAT_H_

#include <cstddef>
#include <cstdint>

namespace slabtrace {
namespace format {

inline constexpr uint32_t kFormatVersion = 1;

// The last byte of the magic is the format version as an ASCII digit, so a
// newer file is recognised as such before anything else is parsed.
inline constexpr char kMagic[] = "SLABTRC1";
inline constexpr size_t kMagicBytes = 8;
inline constexpr size_t kMagicVersionByte = 7;
inline constexpr char kFooterMagic[] = "SLABTEND";
inline constexpr size_t kFooterBytes = 16;  // u64 trailer offset + magic.

enum RecordType : uint8_t {
  kHeaderRecord = 1,
  kChunkRecord = 2,
  kMarkerRecord = 3,
  kTrailerRecord = 4,
};

// type:u8 + payload_length:u32.
inline constexpr size_t kFrameBytes = 5;
// Chunk fields after the frame: uncompressed_length:u32 event_count:u32
// first_seq:u64 flags:u32. The compressed length is the payload length.
inline constexpr size_t kChunkFieldsBytes = 20;
inline constexpr size_t kCrcBytes = 4;

// Chunk flags.
// Every pointer of the chunk is 8-aligned; pointer deltas are stored / 8.
// Only without kChunkRefCoding.
inline constexpr uint32_t kChunkPointersDiv8 = 1u << 0;
// The chunk uses the reference coding (RefColumn below) instead of the six
// Columns: pointers as slab-region indices, frees and allocations as
// references to recent allocations and frees. The writer sets it on every
// chunk whose small-class pointers all start a region of their class.
inline constexpr uint32_t kChunkRefCoding = 1u << 1;
// The reference coding's kind and time columns are packed (PackedColumn
// below): a 4-bit code per event instead of a kind byte, and a time delta
// only for the events whose code says so. Only with kChunkRefCoding; the
// writer sets it on every chunk in the reference coding. Most of zstd's
// decoding time went to those two columns of one byte per event.
inline constexpr uint32_t kChunkPackedKinds = 1u << 2;
// The payload holds each column on its own (a column frame below) instead
// of one zstd frame of them all. zstd's entropy tables then fit each
// column, and a column zstd cannot shrink is stored as it is, which decodes
// as a copy. Independent of the column coding; the writer sets it on every
// chunk.
inline constexpr uint32_t kChunkColumnFrames = 1u << 3;
inline constexpr uint32_t kKnownChunkFlags =
    kChunkPointersDiv8 | kChunkRefCoding | kChunkPackedKinds |
    kChunkColumnFrames;

// With kChunkColumnFrames the payload is one column frame per column, in
// column order: stored:u32, then `stored & kColumnFrameBytesMask` bytes,
// the column itself when kZstdColumnFrame is clear, else one zstd frame of
// it whose header gives the column's length. The columns rebuilt one after
// another, each prefixed by its length (as without the flag), take the
// chunk's uncompressed_length bytes.
inline constexpr uint32_t kZstdColumnFrame = 1u << 31;
inline constexpr uint32_t kColumnFrameBytesMask = kZstdColumnFrame - 1;

// Columns of a chunk's payload (after zstd), in this order, each prefixed
// by its byte length as u32.
enum Column : int {
  kKindApiColumn = 0,  // one byte: same-thread bit | kind << 5 | api.
  kTimeColumn,         // zigzag varint delta of time / resolution.
  kThreadColumn,       // varint thread number of each event whose
                       // same-thread bit is clear.
  kPointerColumn,      // zigzag varint delta against the previous event of
                       // the same size class (scaled, see flags).
  kSizeColumn,         // free: varint size; alloc/resize: zigzag varint of
                       // class size - size.
  kSizeClassColumn,    // varint size class.
  kNumColumns,
};
// Columns of a chunk with kChunkRefCoding, in this order, each prefixed by
// its byte length as u32. "Alloc" columns hold the values of kAlloc and
// kResize events, "free" columns those of kFree events (each column then
// holds one kind of value, which zstd's entropy coder rewards).
enum RefColumn : int {
  kRefKindApiColumn = 0,  // as kKindApiColumn.
  kRefTimeColumn,         // as kTimeColumn.
  kRefThreadColumn,       // as kThreadColumn.
  kAllocClassColumn,      // varint: v < kRecentFrees: the pointer and
                          // class of the chunk's v-th latest free before
                          // the event (0: the latest); else the size class
                          // plus kRecentFrees.
  kAllocSizeColumn,       // zigzag varint of class size - size.
  kAllocPointerColumn,    // when the class value is not a reference:
                          // zigzag varint delta of the slab-region index
                          // against the class's previous one in either
                          // pointer column (0 before the first).
  kFreeClassColumn,       // as kAllocClassColumn, v < kRecentAllocs naming
                          // the chunk's v-th latest kAlloc event.
  kFreeSizeColumn,        // varint size.
  kFreePointerColumn,     // as kAllocPointerColumn, for frees.
  kNumRefColumns,
};
// Columns of a chunk with kChunkPackedKinds: the RefColumns with the first
// two changed, then two more. An event's "symbol" is its kind byte (as
// kKindApiColumn) | timed << 8, where timed says that the event has a time
// delta in kSparseTimeColumn (the writer sets it exactly when the delta is
// not 0; the other events keep the previous event's time).
enum PackedColumn : int {
  kKindCodeColumn = kRefKindApiColumn,  // 4 bits per event, event i in
                                        // byte i / 2, the low half first;
                                        // an index into the kind table, or
                                        // kEscapeCode. An odd count leaves
                                        // the last high half 0.
  kSparseTimeColumn = kRefTimeColumn,   // zigzag varint delta of time /
                                        // resolution, timed events only.
  kKindTableColumn = kNumRefColumns,    // the chunk's kind table: up to
                                        // kEscapeCode entries of two bytes,
                                        // kind byte and timed (0 or 1).
  kKindEscapeColumn,                    // varint symbol of each event coded
                                        // kEscapeCode.
  kNumPackedColumns,
};
inline constexpr uint8_t kEscapeCode = 15;
inline constexpr int kKindTableEntryBytes = 2;

// How far back the reference coding's references reach: a free can name
// one of the chunk's last 32 kAlloc events, an allocation one of its last
// 64 frees (powers of two).
inline constexpr uint32_t kRecentAllocs = 32;
inline constexpr uint32_t kRecentFrees = 64;
inline constexpr int kApiBits = 5;
// Set when the event's thread equals the previous event's in the chunk (0
// before the first): the thread column then holds nothing for it.
inline constexpr uint8_t kSameThreadBit = 0x80;
inline constexpr size_t kColumnLengthBytes = 4;

// Sanity bounds: a reader refuses larger values as corruption, so a flipped
// length can never make it allocate gigabytes.
inline constexpr uint32_t kMaxRecordPayload = 64u << 20;
inline constexpr uint32_t kMaxChunkEvents = 1u << 20;
inline constexpr uint32_t kMaxUncompressedChunk = 64u << 20;

inline constexpr uint64_t kDefaultTimeResolutionNs = 1000;

}  // namespace format
}  // namespace slabtrace

#endif  // SLABTRACE_PROTO_TRACE_FORMAT_H_
