// TestTrace writes small hand-built traces for replay tests: dense seqs,
// times that advance by a fixed step unless set, the jemalloc 5.3 test
// geometry, and markers with or without allocator statistics. Test-only.

#ifndef SLABTRACE_REPLAY_INTERNAL_TEST_TRACE_H_
#define SLABTRACE_REPLAY_INTERNAL_TEST_TRACE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/event.h"
#include "proto/report.pb.h"
#include "proto/slab_geometry.h"
#include "proto/trace.pb.h"
#include "proto/trace_writer.h"

namespace slabtrace {

class TestTrace {
 public:
  // Creates `path` with `header` (JemallocTestHeader() by default); dies
  // (test assertion style) on failure since every caller is a test.
  explicit TestTrace(const std::string& path);
  TestTrace(const std::string& path, const TraceHeader& header);

  const SlabGeometry& geometry() const { return geometry_; }
  const TraceHeader& header() const { return header_; }
  uint64_t next_seq() const { return seq_; }

  // Each event takes the current time, then the clock advances by
  // `time_step_ns` (settable).
  void Alloc(uint64_t ptr, uint32_t size_class, uint64_t size = 0,
             uint32_t thread = 0);
  void Free(uint64_t ptr, uint32_t size_class, uint32_t thread = 0);
  void Resize(uint64_t ptr, uint32_t size_class, uint64_t size);
  void Mark(const std::string& label);
  void MarkWithStats(const std::string& label, const AllocatorStats& stats);
  void SetTime(uint64_t time_ns) { time_ns_ = time_ns; }
  void set_time_step_ns(uint64_t step) { time_step_ns_ = step; }

  // Writes the trailer (Close) or leaves the file without one (Abandon).
  void Close();
  void Abandon();

 private:
  void Append(EventKind kind, AllocApi api, uint64_t ptr, uint32_t size_class,
              uint64_t size, uint32_t thread);

  TraceHeader header_;
  SlabGeometry geometry_;
  std::unique_ptr<TraceWriter> writer_;
  uint64_t seq_ = 0;
  uint64_t time_ns_ = 0;
  uint64_t time_step_ns_ = 1000;
};

// Replays `path` with `options`.
absl::StatusOr<Report> ReplayFile(const std::string& path,
                                  const ReplayOptions& options);

// A fresh path under TEST_TMPDIR.
std::string TestPath(const std::string& name);

}  // namespace slabtrace

#endif  // SLABTRACE_REPLAY_INTERNAL_TEST_TRACE_H_
