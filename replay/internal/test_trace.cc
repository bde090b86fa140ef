#include "replay/internal/test_trace.h"

#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "gtest/gtest.h"
#include "proto/testing/test_header.h"
#include "proto/trace_reader.h"
#include "replay/replayer.h"

namespace slabtrace {

TestTrace::TestTrace(const std::string& path)
    : TestTrace(path, JemallocTestHeader()) {}

TestTrace::TestTrace(const std::string& path, const TraceHeader& header)
    : header_(header), geometry_(*SlabGeometry::Create(header_)) {
  absl::StatusOr<std::unique_ptr<TraceWriter>> writer =
      TraceWriter::Create(path, header_, {.events_per_chunk = 7});
  if (!writer.ok()) {
    ADD_FAILURE() << writer.status();
    std::abort();
  }
  writer_ = *std::move(writer);
}

void TestTrace::Append(EventKind kind, AllocApi api, uint64_t ptr,
                       uint32_t size_class, uint64_t size, uint32_t thread) {
  Event e;
  e.seq = seq_++;
  e.time_ns = time_ns_;
  time_ns_ += time_step_ns_;
  e.kind = kind;
  e.api = api;
  e.ptr = ptr;
  e.size = size;
  e.size_class = size_class;
  e.thread = thread;
  EXPECT_TRUE(writer_->Append(e).ok());
}

void TestTrace::Alloc(uint64_t ptr, uint32_t size_class, uint64_t size,
                      uint32_t thread) {
  Append(EventKind::kAlloc, AllocApi::kMalloc, ptr, size_class,
         size != 0 ? size : geometry_.region_size(size_class), thread);
}

void TestTrace::Free(uint64_t ptr, uint32_t size_class, uint32_t thread) {
  Append(EventKind::kFree, AllocApi::kFree, ptr, size_class, 0, thread);
}

void TestTrace::Resize(uint64_t ptr, uint32_t size_class, uint64_t size) {
  Append(EventKind::kResize, AllocApi::kRealloc, ptr, size_class, size, 0);
}

void TestTrace::Mark(const std::string& label) {
  Marker marker;
  marker.set_seq(seq_);
  marker.set_time_ns(time_ns_);
  marker.set_label(label);
  EXPECT_TRUE(writer_->AddMarker(marker).ok());
}

void TestTrace::MarkWithStats(const std::string& label,
                              const AllocatorStats& stats) {
  Marker marker;
  marker.set_seq(seq_);
  marker.set_time_ns(time_ns_);
  marker.set_label(label);
  *marker.mutable_stats() = stats;
  EXPECT_TRUE(writer_->AddMarker(marker).ok());
}

void TestTrace::Close() {
  TraceTrailer trailer;
  trailer.set_complete(true);
  trailer.set_end_time_ns(time_ns_);
  EXPECT_TRUE(writer_->Close(trailer).ok());
  writer_.reset();
}

void TestTrace::Abandon() {
  EXPECT_TRUE(writer_->Flush().ok());
  writer_.reset();
}

absl::StatusOr<Report> ReplayFile(const std::string& path,
                                  const ReplayOptions& options) {
  absl::StatusOr<std::unique_ptr<TraceReader>> reader = TraceReader::Open(path);
  if (!reader.ok()) return reader.status();
  Replayer replayer(**reader, options);
  return replayer.Run();
}

std::string TestPath(const std::string& name) {
  const char* env = std::getenv("TEST_TMPDIR");
  const std::string dir = env != nullptr ? env : "/tmp";
  // `bazel run` of a test names TEST_TMPDIR without creating it.
  std::error_code ignored;
  std::filesystem::create_directories(dir, ignored);
  return dir + "/" + name;
}

}  // namespace slabtrace
