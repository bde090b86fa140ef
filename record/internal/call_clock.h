// Which recorded calls read the clock, and the time of those that do not.
//
// Reading the clock on every call (rdtsc: about 11 ns of issue time on this
// project's AMD machine, which nothing else overlaps) was half of what the
// recorder cost Redis's thread under `redis-benchmark -P 16`
// (record/README.md, "Timestamps"). CallClock, kept per thread, reads it on
// every call of a thread whose calls are sparse, but only on every
// kCallsPerStamp-th call of a thread making calls back to back; the writer
// gives each untimed call the time of the last timed event before it, so
// an untimed call may come out early (by up to 15 of its thread's calls
// when they come back to back, by up to one writer cycle across a pause
// of its thread), never later than the next timed event.
//
// CallClock promises:
//  - a thread's first call is timed, and so is its first call after each
//    writer wake-up (`writer_epoch` changed), so an untimed call is never
//    more than one writer cycle (20 ms at most while the writer gets a
//    core) after a timed call of its thread;
//  - when the last timed window of a thread averaged more than
//    kBusyTicksPerCall per call, every call is timed until a window is
//    faster again;
//  - otherwise at most kCallsPerStamp - 1 calls in a row are untimed.
//
// Free of absl and of anything that may allocate: Stamp() runs inside the
// application's malloc calls.

#ifndef SLABTRACE_RECORD_INTERNAL_CALL_CLOCK_H_
#define SLABTRACE_RECORD_INTERNAL_CALL_CLOCK_H_

#include <cstdint>

namespace slabtrace {
namespace record_internal {

// The slot time of an untimed call (a real clock reading is never 0).
inline constexpr uint64_t kUntimedStamp = 0;
inline constexpr uint32_t kCallsPerStamp = 16;
// About 2 µs with the TSC at 2 GHz, 4 µs with clock_gettime's nanoseconds.
inline constexpr uint64_t kBusyTicksPerCall = 4096;

struct CallClock {
  uint64_t last_stamp = 0;
  uint32_t untimed_left = 0;
  uint32_t calls_since_stamp = 0;
  uint32_t writer_epoch = 0;

  // The clock reading for this call, or kUntimedStamp. `calls_per_stamp`
  // is kCallsPerStamp, or 1 to time every call.
  template <typename ReadClock>
  uint64_t Stamp(uint32_t current_writer_epoch, uint32_t calls_per_stamp,
                 ReadClock read_clock) {
    if (untimed_left > 0 && writer_epoch == current_writer_epoch) {
      --untimed_left;
      ++calls_since_stamp;
      return kUntimedStamp;
    }
    const uint64_t now = read_clock();
    const uint64_t window_calls = uint64_t{calls_since_stamp} + 1;
    // Unsigned: a reading before the last one (another core's TSC) or the
    // first call (last_stamp 0) counts as sparse.
    const bool busy = now - last_stamp < window_calls * kBusyTicksPerCall;
    untimed_left = busy ? calls_per_stamp - 1 : 0;
    calls_since_stamp = 0;
    last_stamp = now;
    writer_epoch = current_writer_epoch;
    return now;
  }
};

}  // namespace record_internal
}  // namespace slabtrace

#endif  // SLABTRACE_RECORD_INTERNAL_CALL_CLOCK_H_
