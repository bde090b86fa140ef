// Little-endian fixed-width fields of record frames, shared by the writer
// and the reader.

#ifndef SLABTRACE_PROTO_INTERNAL_FRAME_H_
#define SLABTRACE_PROTO_INTERNAL_FRAME_H_

#include <cstdint>
#include <memory>
#include <new>
#include <utility>
#include <vector>

namespace slabtrace {
namespace internal {

// An allocator whose resize() leaves new bytes uninitialized: record and
// column buffers are resized to a bound for every chunk and then
// overwritten, and zero-filling them was a visible share of encode time.
template <typename T>
struct DefaultInitAllocator : std::allocator<T> {
  template <typename U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  template <typename U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <typename U, typename... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};
using ByteBuffer = std::vector<uint8_t, DefaultInitAllocator<uint8_t>>;

inline void PutLe32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline void PutLe64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline uint32_t GetLe32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 |
         uint32_t{p[3]} << 24;
}
inline uint64_t GetLe64(const uint8_t* p) {
  return uint64_t{GetLe32(p)} | uint64_t{GetLe32(p + 4)} << 32;
}

}  // namespace internal
}  // namespace slabtrace

#endif  // SLABTRACE_PROTO_INTERNAL_FRAME_H_
