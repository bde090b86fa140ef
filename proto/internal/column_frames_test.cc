#include "proto/internal/column_frames.h"

#include <zstd.h>

#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "proto/internal/frame.h"
#include "proto/trace_format.h"

namespace slabtrace {
namespace internal {
namespace {

// Columns as ChunkEncoder lays them out: each prefixed by its u32 length.
std::vector<uint8_t> Layout(const std::vector<std::vector<uint8_t>>& columns) {
  std::vector<uint8_t> out;
  for (const std::vector<uint8_t>& column : columns) {
    uint8_t length[4];
    PutLe32(length, static_cast<uint32_t>(column.size()));
    out.insert(out.end(), length, length + 4);
    out.insert(out.end(), column.begin(), column.end());
  }
  return out;
}

// n bytes, each of the low `bits` bits random: zstd's saving grows as the
// bits shrink.
std::vector<uint8_t> RandomBytes(uint64_t seed, size_t n, int bits) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> bytes(n);
  for (uint8_t& b : bytes) b = static_cast<uint8_t>(rng() & ((1u << bits) - 1));
  return bytes;
}

class ColumnFramesTest : public testing::Test {
 protected:
  ColumnFramesTest() : cctx_(ZSTD_createCCtx()), dctx_(ZSTD_createDCtx()) {
    ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel, 1);
  }
  ~ColumnFramesTest() override {
    ZSTD_freeCCtx(cctx_);
    ZSTD_freeDCtx(dctx_);
  }
  std::vector<uint8_t> Pack(const std::vector<uint8_t>& layout) {
    std::vector<uint8_t> out(ColumnFramesBound(layout.data(), layout.size()));
    const absl::StatusOr<size_t> n = PackColumnFrames(
        cctx_, layout.data(), layout.size(), out.data(), out.size());
    EXPECT_TRUE(n.ok()) << n.status();
    out.resize(n.ok() ? *n : 0);
    return out;
  }
  absl::Status Unpack(const std::vector<uint8_t>& frames, size_t out_size,
                      std::vector<uint8_t>* out) {
    // Exactly out_size bytes, so that a write past them is a heap overflow
    // under ASan.
    out->assign(out_size, 0);
    return UnpackColumnFrames(dctx_, frames.data(), frames.size(), out->data(),
                              out_size);
  }
  // The stored words of `frames`, in column order.
  static std::vector<uint32_t> Words(const std::vector<uint8_t>& frames) {
    std::vector<uint32_t> words;
    for (size_t at = 0; at < frames.size();) {
      const uint32_t word = GetLe32(&frames[at]);
      words.push_back(word);
      at += 4 + (word & format::kColumnFrameBytesMask);
    }
    return words;
  }

  ZSTD_CCtx* cctx_;
  ZSTD_DCtx* dctx_;
};

TEST_F(ColumnFramesTest, ColumnsComeBackWhateverTheirStorage) {
  const std::vector<std::vector<uint8_t>> columns = {
      std::vector<uint8_t>(5000, 0),  // zstd: a few bytes.
      RandomBytes(1, 5000, 8),        // stored: zstd cannot shrink it.
      {},                             // empty.
      {7},                            // one byte: a zstd frame is longer.
      RandomBytes(2, 70000, 3),       // zstd: 3 of 8 bits.
  };
  const std::vector<uint8_t> layout = Layout(columns);
  const std::vector<uint8_t> frames = Pack(layout);
  const std::vector<uint32_t> words = Words(frames);
  ASSERT_EQ(words.size(), columns.size());
  EXPECT_NE(words[0] & format::kZstdColumnFrame, 0u);
  EXPECT_EQ(words[1], 5000u);
  EXPECT_EQ(words[2], 0u);
  EXPECT_EQ(words[3], 1u);
  EXPECT_NE(words[4] & format::kZstdColumnFrame, 0u);
  EXPECT_LT(frames.size(), layout.size() / 2);
  std::vector<uint8_t> out;
  ASSERT_TRUE(Unpack(frames, layout.size(), &out).ok());
  EXPECT_EQ(out, layout);
}

// A column is stored as it is exactly when zstd (at the same level) takes
// less than kMinZstdSavingPercent of its bytes away.
TEST_F(ColumnFramesTest, StoresAColumnWhenZstdSavesTooLittle) {
  int stored = 0;
  int compressed = 0;
  for (int bits = 5; bits <= 8; ++bits) {
    for (size_t n : {100, 1000, 20000}) {
      const std::vector<uint8_t> column = RandomBytes(bits * n, n, bits);
      std::vector<uint8_t> alone(ZSTD_compressBound(n));
      const size_t z = ZSTD_compress2(cctx_, alone.data(), alone.size(),
                                      column.data(), column.size());
      ASSERT_FALSE(ZSTD_isError(z));
      const bool want_zstd = z * 100 <= n * (100 - kMinZstdSavingPercent);
      const std::vector<uint8_t> layout = Layout({column});
      const std::vector<uint8_t> frames = Pack(layout);
      const uint32_t word = Words(frames).at(0);
      EXPECT_EQ((word & format::kZstdColumnFrame) != 0, want_zstd)
          << bits << " bits, " << n << " bytes, zstd " << z;
      EXPECT_EQ(word & format::kColumnFrameBytesMask, want_zstd ? z : n);
      (want_zstd ? compressed : stored)++;
      std::vector<uint8_t> out;
      ASSERT_TRUE(Unpack(frames, layout.size(), &out).ok());
      EXPECT_EQ(out, layout);
    }
  }
  // Both storages came up.
  EXPECT_GT(stored, 0);
  EXPECT_GT(compressed, 0);
}

TEST_F(ColumnFramesTest, MalformedFramesNameTheirColumn) {
  const std::vector<uint8_t> layout =
      Layout({std::vector<uint8_t>(3000, 1), {1, 2, 3}});
  const std::vector<uint8_t> good = Pack(layout);
  ASSERT_EQ(Words(good).size(), 2u);
  const size_t second = good.size() - 7;  // the stored column's word.
  ASSERT_EQ(GetLe32(&good[second]), 3u);
  std::vector<uint8_t> out;
  auto expect_error = [&](const std::vector<uint8_t>& frames, size_t out_size,
                          const std::string& message) {
    const absl::Status status = Unpack(frames, out_size, &out);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(status.message(), message);
  };
  expect_error(std::vector<uint8_t>(good.begin(), good.end() - 5),
               layout.size(), "column 1: frame length runs past the payload");
  expect_error(std::vector<uint8_t>(good.begin(), good.end() - 1),
               layout.size(),
               "column 1: frame of 3 bytes runs past the payload");
  expect_error(good, layout.size() - 1,
               "column 1: the columns exceed the chunk's 3010 bytes");
  expect_error(good, layout.size() + 1,
               "the columns take 3011 bytes, the chunk says 3012");
  expect_error(good, 3000,
               "column 0: zstd frame without a content size of at most 2996");
  std::vector<uint8_t> bad = good;
  bad[good.size() - 9] ^= 0x55;  // inside the zstd frame's last block.
  const absl::Status status = Unpack(bad, layout.size(), &out);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message().substr(0, 10), "column 0: ");

  // A frame followed by a skippable frame (magic, length 0), both within
  // the stored bytes: zstd would decode the two; the format has one.
  std::vector<uint8_t> two_frames = good;
  const uint32_t first_word = GetLe32(two_frames.data());
  const uint8_t skippable[8] = {0x50, 0x2a, 0x4d, 0x18, 0, 0, 0, 0};
  two_frames.insert(two_frames.begin() + 4 + (first_word & 0x7fffffff),
                    skippable, skippable + 8);
  PutLe32(two_frames.data(), first_word + 8);
  expect_error(two_frames, layout.size(),
               absl::StrFormat("column 0: %d bytes that are not one zstd frame",
                               (first_word & 0x7fffffff) + 8));
  bad = good;
  bad[3] &= 0x7f;  // column 0 claims to be stored as it is.
  expect_error(bad, layout.size(),
               absl::StrFormat("the columns take %d bytes, the chunk says 3011",
                               good.size()));

  // A frame that does not say its content size.
  ZSTD_CCtx_setParameter(cctx_, ZSTD_c_contentSizeFlag, 0);
  std::vector<uint8_t> unsized(4 + ZSTD_compressBound(3000));
  const size_t z =
      ZSTD_compress2(cctx_, &unsized[4], unsized.size() - 4, &layout[4], 3000);
  ASSERT_FALSE(ZSTD_isError(z));
  unsized.resize(4 + z);
  PutLe32(unsized.data(), static_cast<uint32_t>(z) | format::kZstdColumnFrame);
  expect_error(unsized, 3004,
               "column 0: zstd frame without a content size of at most 3000");
}

// Every single-byte change of a payload decodes to the same columns or is
// refused; none writes past the output (ASan).
TEST_F(ColumnFramesTest, EveryByteFlipIsRefusedOrHarmless) {
  const std::vector<uint8_t> layout =
      Layout({RandomBytes(3, 600, 2), RandomBytes(4, 300, 8), {}, {9, 9}});
  const std::vector<uint8_t> good = Pack(layout);
  std::vector<uint8_t> out;
  int refused = 0;
  for (size_t at = 0; at < good.size(); ++at) {
    for (uint8_t flip : {0x01, 0x80, 0xff}) {
      std::vector<uint8_t> bad = good;
      bad[at] ^= flip;
      if (Unpack(bad, layout.size(), &out).ok()) {
        // zstd has no checksum here (the record's CRC32C guards the bytes):
        // a column's bytes may change, never its length.
        for (size_t at = 0; at < layout.size();) {
          const uint32_t length = GetLe32(&layout[at]);
          ASSERT_EQ(GetLe32(&out[at]), length) << "flip at " << at;
          at += 4 + length;
        }
      } else {
        ++refused;
      }
    }
  }
  EXPECT_GT(refused, 0);
}

// A chunk under kSmallChunkBytes keeps the smaller of column frames and one
// zstd frame, and says which; a larger one always has column frames.
TEST_F(ColumnFramesTest, SmallChunksKeepTheSmallerPayload) {
  // Columns that repeat each other (one frame finds the repeats), and
  // columns of unlike bytes (each frame's tables fit its own column).
  const std::vector<uint8_t> repeated = RandomBytes(5, 3000, 5);
  std::vector<uint8_t> unlike = RandomBytes(6, 3000, 2);
  for (uint8_t& b : unlike) b = static_cast<uint8_t>(b | 0xf0);
  const std::vector<std::vector<uint8_t>> alike_columns(6, repeated);
  const std::vector<std::vector<uint8_t>> unlike_columns = {
      RandomBytes(7, 3000, 2), unlike, RandomBytes(8, 3000, 1)};
  const std::vector<uint8_t> big =
      Layout({RandomBytes(9, kSmallChunkBytes, 3), RandomBytes(9, 1000, 3)});
  std::vector<uint8_t> scratch;
  int whole_kept = 0;
  for (const std::vector<uint8_t>& layout :
       {Layout(alike_columns), Layout(unlike_columns), big}) {
    std::vector<uint8_t> payload(
        ChunkPayloadBound(layout.data(), layout.size()));
    const absl::StatusOr<ChunkPayload> packed =
        PackChunkPayload(cctx_, layout.data(), layout.size(), payload.data(),
                         payload.size(), &scratch);
    ASSERT_TRUE(packed.ok()) << packed.status();
    payload.resize(packed->bytes);
    const std::vector<uint8_t> frames = Pack(layout);
    std::vector<uint8_t> whole(ZSTD_compressBound(layout.size()));
    whole.resize(ZSTD_compress2(cctx_, whole.data(), whole.size(),
                                layout.data(), layout.size()));
    std::vector<uint8_t> out(layout.size());
    if (layout.size() >= kSmallChunkBytes || frames.size() <= whole.size()) {
      EXPECT_TRUE(packed->column_frames) << layout.size();
      EXPECT_EQ(payload, frames);
      ASSERT_TRUE(Unpack(payload, layout.size(), &out).ok());
    } else {
      ++whole_kept;
      EXPECT_FALSE(packed->column_frames);
      EXPECT_EQ(payload, whole);
      ASSERT_EQ(ZSTD_decompress(out.data(), out.size(), payload.data(),
                                payload.size()),
                layout.size());
    }
    EXPECT_EQ(out, layout);
  }
  EXPECT_EQ(whole_kept, 1);  // the alike columns.
}

TEST_F(ColumnFramesTest, AColumnTooLongForItsFrameIsAnError) {
  std::vector<uint8_t> layout(4);
  PutLe32(layout.data(), 1u << 31);  // only the length is read.
  std::vector<uint8_t> out(64);
  const absl::StatusOr<size_t> n = PackColumnFrames(
      cctx_, layout.data(), layout.size(), out.data(), out.size());
  EXPECT_EQ(n.status().code(), absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace internal
}  // namespace slabtrace
