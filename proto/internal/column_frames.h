// The chunk payload of format::kChunkColumnFrames: each column of a chunk
// compressed on its own, or stored as it is where zstd cannot shrink it.
//
// Against one zstd frame of all the columns, on the benchmark's Redis-like
// stream (proto/README.md, "Column frames"): 1.88 -> 1.76 bytes/event, and
// zstd's share of decoding 5.5 -> 4.6 ms per 2 M events, a third of that
// from the free-pointer column, which zstd shrank by 4 % only.

#ifndef SLABTRACE_PROTO_INTERNAL_COLUMN_FRAMES_H_
#define SLABTRACE_PROTO_INTERNAL_COLUMN_FRAMES_H_

#include <zstd.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace slabtrace {
namespace internal {

// A column is stored as it is unless zstd takes at least this share of its
// bytes away: decoding a stored column is a copy, and a few percent of
// bytes is not worth zstd's time.
inline constexpr int kMinZstdSavingPercent = 10;

// The most bytes PackColumnFrames() can write for `columns`.
size_t ColumnFramesBound(const uint8_t* columns, size_t size);

// Writes the column frames of `columns` (ChunkEncoder's output: each
// column prefixed by its u32 length) into out[0, capacity), capacity >=
// ColumnFramesBound(); returns the bytes written. Fails only when zstd
// does.
absl::StatusOr<size_t> PackColumnFrames(ZSTD_CCtx* cctx, const uint8_t* columns,
                                        size_t size, uint8_t* out,
                                        size_t capacity);

// A chunk payload: column frames (format::kChunkColumnFrames) or one zstd
// frame of the whole column layout.
struct ChunkPayload {
  size_t bytes = 0;
  bool column_frames = false;
};

// Chunks whose columns take fewer bytes than this are also compressed
// whole, and the smaller payload is kept: each column frame has its own
// zstd header and entropy tables, which outweigh what they save on a chunk
// of a few hundred events (a chunk ends at every marker), +7 % on
// trace_roundtrip_test's random stream with one marker per 211 events.
inline constexpr size_t kSmallChunkBytes = 64 << 10;

// The most bytes PackChunkPayload() can write for `columns`.
size_t ChunkPayloadBound(const uint8_t* columns, size_t size);

// Writes the payload of a chunk whose column layout is `columns` into
// out[0, capacity), capacity >= ChunkPayloadBound(): column frames, or for
// a small chunk whichever of those and one zstd frame is smaller. `scratch`
// holds the other candidate. Fails only when zstd does.
absl::StatusOr<ChunkPayload> PackChunkPayload(ZSTD_CCtx* cctx,
                                              const uint8_t* columns,
                                              size_t size, uint8_t* out,
                                              size_t capacity,
                                              std::vector<uint8_t>* scratch);

// Rebuilds from column frames the columns, each prefixed by its u32 length,
// into out[0, out_size), which they must fill exactly. A malformed frame
// gives InvalidArgument with a one-phrase reason naming the column.
absl::Status UnpackColumnFrames(ZSTD_DCtx* dctx, const uint8_t* frames,
                                size_t size, uint8_t* out, size_t out_size);

}  // namespace internal
}  // namespace slabtrace

#endif  // SLABTRACE_PROTO_INTERNAL_COLUMN_FRAMES_H_
