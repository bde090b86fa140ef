// CRC32C (Castagnoli), as used by iSCSI, ext4 and many file formats. Uses
// the SSE4.2 crc32 instruction when the CPU has it, a table otherwise; both
// give the same value (Crc32c("123456789") == 0xE3069283).

#ifndef SLABTRACE_PROTO_INTERNAL_CRC32C_H_
#define SLABTRACE_PROTO_INTERNAL_CRC32C_H_

#include <cstddef>
#include <cstdint>

namespace slabtrace {
namespace internal {

// Extends `crc` (the value returned for the preceding bytes; 0 to start)
// over `n` bytes.
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n);
inline uint32_t Crc32c(const void* data, size_t n) {
  return Crc32cExtend(0, data, n);
}

// The portable implementation, exposed so tests can compare it with the
// hardware one.
uint32_t Crc32cExtendPortable(uint32_t crc, const void* data, size_t n);

}  // namespace internal
}  // namespace slabtrace

#endif  // SLABTRACE_PROTO_INTERNAL_CRC32C_H_
