// How long the recorder's writer thread sleeps between drains. The writer
// sleeps when a drain found little to do; it must wake before any ring can
// fill, or the program waits for it (SlotWriter::WaitForSpace), but each
// wake-up costs tens of microseconds in a VM, so it should not wake more
// often than that requires.
//
// WriterSleepNs promises: after a cycle (a sleep and the drains after it)
// of `elapsed_ns` that consumed `consumed` slots, the time in which a ring
// of `ring_events` slots filling at that rate would be a quarter full,
// clamped to [kMinWriterSleepNs, max(max_ns, kMinWriterSleepNs)]; max_ns
// when nothing was consumed. The rate is that of all rings together, which
// bounds each ring's own, so no ring is fuller. A quarter, not three
// quarters (where a crowded ring wakes the writer itself): a writer woken
// that late was often scheduled too late to keep the program from waiting
// (record/README.md, "Overhead").
//
// Free of absl: included by the recorder's writer only, but kept with the
// other header-only pieces of the recorder.

#ifndef SLABTRACE_RECORD_INTERNAL_WRITER_PACING_H_
#define SLABTRACE_RECORD_INTERNAL_WRITER_PACING_H_

#include <algorithm>
#include <cstdint>

namespace slabtrace {
namespace record_internal {

inline constexpr uint64_t kMinWriterSleepNs = 200 * 1000;

inline uint64_t WriterSleepNs(uint64_t consumed, uint64_t elapsed_ns,
                              uint32_t ring_events, uint64_t max_ns) {
  const uint64_t longest = std::max(max_ns, kMinWriterSleepNs);
  if (consumed == 0) return longest;
  // In double: slots × nanoseconds overflows 64 bits after a long cycle.
  const double quarter_ring = ring_events / 4.0;
  const double ns = quarter_ring * static_cast<double>(elapsed_ns) /
                    static_cast<double>(consumed);
  return static_cast<uint64_t>(
      std::clamp(ns, static_cast<double>(kMinWriterSleepNs),
                 static_cast<double>(longest)));
}

}  // namespace record_internal
}  // namespace slabtrace

#endif  // SLABTRACE_RECORD_INTERNAL_WRITER_PACING_H_
