// LEB128 varints and zigzag, the integer coding of every event column.
// Decoding is bounds-checked: a column can never be read past its end.

#ifndef SLABTRACE_PROTO_INTERNAL_VARINT_H_
#define SLABTRACE_PROTO_INTERNAL_VARINT_H_

#include <cstdint>

namespace slabtrace {
namespace internal {

inline constexpr int kMaxVarintBytes = 10;

inline uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t UnZigZag(uint64_t v) {
  return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1));
}

// Writes v at p (room for kMaxVarintBytes) and returns the end.
inline uint8_t* PutVarint(uint8_t* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<uint8_t>(v) | 0x80;
    v >>= 7;
  }
  *p++ = static_cast<uint8_t>(v);
  return p;
}

// Reads one varint from [*p, end). On success advances *p and returns true;
// returns false when the varint runs past `end` or past 64 bits.
__attribute__((always_inline)) inline bool GetVarint(const uint8_t** p,
                                                     const uint8_t* end,
                                                     uint64_t* v) {
  const uint8_t* q = *p;
  if (q < end && *q < 0x80) {  // the common one-byte case.
    *v = *q;
    *p = q + 1;
    return true;
  }
  uint64_t result = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (q >= end) return false;
    const uint64_t byte = *q++;
    result |= (byte & 0x7f) << shift;
    if (byte < 0x80) {
      // The tenth byte may only carry the top bit of a 64-bit value.
      if (shift == 63 && byte > 1) return false;
      *v = result;
      *p = q;
      return true;
    }
  }
  return false;
}

// Same contract as GetVarint, faster on columns of mixed lengths: with 8
// bytes of column left it decodes up to 8-byte varints without a branch per
// byte.
__attribute__((always_inline)) inline bool GetVarintFast(const uint8_t** p,
                                                         const uint8_t* end,
                                                         uint64_t* v) {
  const uint8_t* q = *p;
  if (q < end && *q < 0x80) {
    *v = *q;
    *p = q + 1;
    return true;
  }
  if (end - q < 8) return GetVarint(p, end, v);
  uint64_t x;
  __builtin_memcpy(&x, q, 8);  // little-endian hosts only (x86-64, arm64).
  const uint64_t stops = ~x & 0x8080808080808080ull;
  if (stops == 0) return GetVarint(p, end, v);  // 9 or 10 bytes.
  const int bytes = (__builtin_ctzll(stops) >> 3) + 1;
  if (bytes < 8) x &= (uint64_t{1} << (8 * bytes)) - 1;
  x &= 0x7f7f7f7f7f7f7f7full;
  x = ((x & 0x7f007f007f007f00ull) >> 1) | (x & 0x007f007f007f007full);
  x = ((x & 0x3fff00003fff0000ull) >> 2) | (x & 0x00003fff00003fffull);
  x = ((x & 0x0fffffff00000000ull) >> 4) | (x & 0x000000000fffffffull);
  *v = x;
  *p = q + bytes;
  return true;
}

}  // namespace internal
}  // namespace slabtrace

#endif  // SLABTRACE_PROTO_INTERNAL_VARINT_H_
