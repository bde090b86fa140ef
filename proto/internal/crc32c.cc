#include "proto/internal/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace slabtrace {
namespace internal {
namespace {

constexpr uint32_t kPolynomial = 0x82F63B78;  // reversed Castagnoli.

// Computed at compile time: no static initializer runs in the recorded
// process.
constexpr std::array<uint32_t, 256> MakeTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc >> 1) ^ ((crc & 1) ? kPolynomial : 0);
    }
    table[i] = crc;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kTable = MakeTable();

#if defined(__x86_64__)
// a * b modulo the polynomial, both in the reflected bit order (bit 31 is
// x^0).
constexpr uint32_t MultiplyModP(uint32_t a, uint32_t b) {
  uint32_t product = 0;
  for (uint32_t m = 1u << 31; m != 0; m >>= 1) {
    if ((a & m) != 0) product ^= b;
    b = (b & 1) != 0 ? (b >> 1) ^ kPolynomial : b >> 1;
  }
  return product;
}

// The crc32 instruction is 3 cycles of latency and 1 of throughput, so one
// dependent stream runs at a third of its speed: long inputs are taken as
// three streams over consecutive blocks of kStreamBlock bytes, joined with
// the CRC's linearity: crc(A B) = crc(A) * x^(8 |B|) + crc(B) for the raw
// register (no inversions).
constexpr size_t kStreamBlock = 1024;

// Multiplying by x^(8 kStreamBlock), one table per byte of the register.
struct BlockShift {
  uint32_t table[4][256];
};
constexpr BlockShift MakeBlockShift() {
  uint32_t x_pow = 1u << 30;  // x^1; squared three times: x^8 (a byte).
  for (int i = 0; i < 3; ++i) x_pow = MultiplyModP(x_pow, x_pow);
  uint32_t block_pow = 1u << 31;  // x^0.
  for (size_t i = 0; i < kStreamBlock; ++i) {
    block_pow = MultiplyModP(block_pow, x_pow);
  }
  BlockShift shift{};
  for (int byte = 0; byte < 4; ++byte) {
    for (uint32_t v = 0; v < 256; ++v) {
      shift.table[byte][v] = MultiplyModP(block_pow, v << (8 * byte));
    }
  }
  return shift;
}
constexpr BlockShift kBlockShift = MakeBlockShift();

uint32_t ShiftByBlock(uint32_t crc) {
  return kBlockShift.table[0][crc & 0xff] ^
         kBlockShift.table[1][(crc >> 8) & 0xff] ^
         kBlockShift.table[2][(crc >> 16) & 0xff] ^
         kBlockShift.table[3][crc >> 24];
}

__attribute__((target("sse4.2"))) uint32_t ExtendSse42(uint32_t crc,
                                                       const uint8_t* p,
                                                       size_t n) {
  uint64_t c = ~crc;
  for (; n >= 3 * kStreamBlock; n -= 3 * kStreamBlock) {
    uint64_t b = 0;
    uint64_t d = 0;
    for (size_t at = 0; at < kStreamBlock; at += 8, p += 8) {
      uint64_t words[3];
      std::memcpy(&words[0], p, 8);
      std::memcpy(&words[1], p + kStreamBlock, 8);
      std::memcpy(&words[2], p + 2 * kStreamBlock, 8);
      c = _mm_crc32_u64(c, words[0]);
      b = _mm_crc32_u64(b, words[1]);
      d = _mm_crc32_u64(d, words[2]);
    }
    p += 2 * kStreamBlock;
    c = ShiftByBlock(ShiftByBlock(static_cast<uint32_t>(c)) ^
                     static_cast<uint32_t>(b)) ^
        d;
  }
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    c = _mm_crc32_u64(c, word);
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  for (; n > 0; --n, ++p) c32 = _mm_crc32_u8(c32, *p);
  return ~c32;
}

bool HasSse42() {
  // Cached after the first call; a benign race sets the same value twice.
  static const bool has = __builtin_cpu_supports("sse4.2");
  return has;
}
#endif

}  // namespace

uint32_t Crc32cExtendPortable(uint32_t crc, const void* data, size_t n) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  uint32_t c = ~crc;
  for (; n > 0; --n, ++p) c = kTable[(c ^ *p) & 0xff] ^ (c >> 8);
  return ~c;
}

uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n) {
#if defined(__x86_64__)
  if (HasSse42()) {
    return ExtendSse42(crc, static_cast<const uint8_t*>(data), n);
  }
#endif
  return Crc32cExtendPortable(crc, data, n);
}

}  // namespace internal
}  // namespace slabtrace
