// Which recorded calls read the clock, and the time of those that do not.
//
// Reading the clock on every call (rdtsc: about 11 ns of issue time on this
// project's AMD machine, which nothing else overlaps) was half of what the
// recorder cost Redis's thread under `redis-benchmark -P 16`
// (record/README.md, "Timestamps"). CallClock, kept per thread, reads it on
// every call of a thread whose calls are sparse, but only on every
// kCallsPerStamp-th call of a thread making calls back to back; the writer
// gives each untimed call a time between the timed events around it
// (UntimedEventTimes).
//
// CallClock promises:
//  - a thread's first call is timed, and so is its first call after each
//    writer wake-up (`writer_epoch` changed), so an untimed call is never
//    more than one writer cycle (at most 20 ms) after a timed call of its
//    thread;
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

// The times the writer gives the untimed events between two timed events
// (or the writer's own readings) `from` and `to`, in event order
// (from_seq < seq < to_seq, from_ns <= to_ns): interpolated by position
// when the events between came at a steady pace (at most
// kSteadyNsPerEvent apart on average); else from_ns, since the program
// paused somewhere in between and most likely after the timed event it
// called right before (a burst ends, the program waits, the next burst is
// timed at its first call). One division per gap, none per event.
inline constexpr uint64_t kSteadyNsPerEvent = 2000;

class UntimedEventTimes {
 public:
  UntimedEventTimes(uint64_t from_seq, uint64_t from_ns, uint64_t to_seq,
                    uint64_t to_ns)
      : from_seq_(from_seq), from_ns_(from_ns) {
    const uint64_t events = to_seq - from_seq;
    const uint64_t span = to_ns - from_ns;
    // The second bound keeps span << 16 and At()'s product in 64 bits.
    if (span / events <= kSteadyNsPerEvent && events < (uint64_t{1} << 32)) {
      step_q16_ = (span << 16) / events;
    }
  }
  uint64_t At(uint64_t seq) const {
    return from_ns_ + (((seq - from_seq_) * step_q16_) >> 16);
  }

 private:
  uint64_t from_seq_;
  uint64_t from_ns_;
  uint64_t step_q16_ = 0;  // ns per event, 16.16 fixed point.
};

}  // namespace record_internal
}  // namespace slabtrace

#endif  // SLABTRACE_RECORD_INTERNAL_CALL_CLOCK_H_
