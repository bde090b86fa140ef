#include "proto/internal/column_frames.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "proto/internal/frame.h"
#include "proto/trace_format.h"

namespace slabtrace {
namespace internal {

size_t ColumnFramesBound(const uint8_t* columns, size_t size) {
  size_t bound = 0;
  for (size_t at = 0; at < size;) {
    const uint32_t length = GetLe32(columns + at);
    bound += format::kColumnLengthBytes + ZSTD_compressBound(length);
    at += format::kColumnLengthBytes + length;
  }
  return bound;
}

absl::StatusOr<size_t> PackColumnFrames(ZSTD_CCtx* cctx, const uint8_t* columns,
                                        size_t size, uint8_t* out,
                                        size_t capacity) {
  size_t written = 0;
  for (size_t at = 0; at < size;) {
    const uint32_t length = GetLe32(columns + at);
    if (length > format::kColumnFrameBytesMask) {
      // Bit 31 says "zstd"; no chunk comes near (kMaxUncompressedChunk).
      return absl::InternalError(
          absl::StrFormat("a column of %d bytes has no column frame", length));
    }
    const uint8_t* const column = columns + at + format::kColumnLengthBytes;
    uint8_t* const frame = out + written + format::kColumnLengthBytes;
    const size_t compressed = ZSTD_compress2(
        cctx, frame, capacity - written - format::kColumnLengthBytes, column,
        length);
    if (ZSTD_isError(compressed)) {
      return absl::InternalError(
          absl::StrCat("zstd: ", ZSTD_getErrorName(compressed)));
    }
    uint32_t stored =
        static_cast<uint32_t>(compressed) | format::kZstdColumnFrame;
    if (compressed * 100 > uint64_t{length} * (100 - kMinZstdSavingPercent)) {
      // ZSTD_compressBound(length) >= length: the column fits where its
      // frame was.
      std::memcpy(frame, column, length);
      stored = length;
    }
    PutLe32(out + written, stored);
    written +=
        format::kColumnLengthBytes + (stored & format::kColumnFrameBytesMask);
    at += format::kColumnLengthBytes + length;
  }
  return written;
}

size_t ChunkPayloadBound(const uint8_t* columns, size_t size) {
  return std::max(ColumnFramesBound(columns, size), ZSTD_compressBound(size));
}

absl::StatusOr<ChunkPayload> PackChunkPayload(ZSTD_CCtx* cctx,
                                              const uint8_t* columns,
                                              size_t size, uint8_t* out,
                                              size_t capacity,
                                              std::vector<uint8_t>* scratch) {
  const absl::StatusOr<size_t> frames =
      PackColumnFrames(cctx, columns, size, out, capacity);
  if (!frames.ok()) return frames.status();
  if (size >= kSmallChunkBytes) return ChunkPayload{*frames, true};
  scratch->resize(ZSTD_compressBound(size));
  const size_t whole =
      ZSTD_compress2(cctx, scratch->data(), scratch->size(), columns, size);
  if (ZSTD_isError(whole)) {
    return absl::InternalError(
        absl::StrCat("zstd: ", ZSTD_getErrorName(whole)));
  }
  if (whole >= *frames) return ChunkPayload{*frames, true};
  std::memcpy(out, scratch->data(), whole);
  return ChunkPayload{whole, false};
}

absl::Status UnpackColumnFrames(ZSTD_DCtx* dctx, const uint8_t* frames,
                                size_t size, uint8_t* out, size_t out_size) {
  const uint8_t* p = frames;
  const uint8_t* const end = frames + size;
  size_t at = 0;
  for (int column = 0; p != end; ++column) {
    if (static_cast<size_t>(end - p) < format::kColumnLengthBytes) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "column %d: frame length runs past the payload", column));
    }
    const uint32_t word = GetLe32(p);
    p += format::kColumnLengthBytes;
    const size_t stored = word & format::kColumnFrameBytesMask;
    if (stored > static_cast<size_t>(end - p)) {
      return absl::InvalidArgumentError(
          absl::StrFormat("column %d: frame of %d bytes runs past the payload",
                          column, stored));
    }
    if (out_size - at < format::kColumnLengthBytes) {
      return absl::InvalidArgumentError(
          absl::StrFormat("column %d: the columns exceed the chunk's %d bytes",
                          column, out_size));
    }
    const size_t room = out_size - at - format::kColumnLengthBytes;
    uint8_t* const column_out = out + at + format::kColumnLengthBytes;
    size_t length = stored;
    if ((word & format::kZstdColumnFrame) != 0) {
      // Exactly one frame: zstd would decode any frames that follow it.
      if (ZSTD_findFrameCompressedSize(p, stored) != stored) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "column %d: %d bytes that are not one zstd frame", column, stored));
      }
      const unsigned long long content = ZSTD_getFrameContentSize(p, stored);
      if (content == ZSTD_CONTENTSIZE_UNKNOWN ||
          content == ZSTD_CONTENTSIZE_ERROR || content > room) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "column %d: zstd frame without a content size of at most %d",
            column, room));
      }
      length = static_cast<size_t>(content);
      const size_t got =
          ZSTD_decompressDCtx(dctx, column_out, length, p, stored);
      if (ZSTD_isError(got) || got != length) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "column %d: zstd: %s", column,
            ZSTD_isError(got) ? ZSTD_getErrorName(got) : "short output"));
      }
    } else {
      if (length > room) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "column %d: the columns exceed the chunk's %d bytes", column,
            out_size));
      }
      std::memcpy(column_out, p, length);
    }
    PutLe32(out + at, static_cast<uint32_t>(length));
    at += format::kColumnLengthBytes + length;
    p += stored;
  }
  if (at != out_size) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "the columns take %d bytes, the chunk says %d", at, out_size));
  }
  return absl::OkStatus();
}

}  // namespace internal
}  // namespace slabtrace
