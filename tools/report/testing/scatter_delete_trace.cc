#include "tools/report/testing/scatter_delete_trace.h"

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "proto/event.h"
#include "proto/slab_geometry.h"
#include "proto/testing/test_header.h"
#include "proto/trace.pb.h"
#include "proto/trace_writer.h"

namespace slabtrace {
namespace {

constexpr uint64_t kBigBase = 0x7f0000000000;
constexpr uint64_t kSmallBase = 0x7f4000000000;
constexpr uint64_t kStepNs = 1000;

class Script {
 public:
  explicit Script(TraceWriter& writer) : writer_(writer) {}

  absl::Status Event(EventKind kind, uint64_t ptr, uint32_t size_class,
                     uint64_t size) {
    slabtrace::Event e;
    e.seq = seq_++;
    e.time_ns = time_ns_;
    time_ns_ += kStepNs;
    e.kind = kind;
    e.api = kind == EventKind::kAlloc ? AllocApi::kMalloc : AllocApi::kFree;
    e.ptr = ptr;
    e.size = size;
    e.size_class = static_cast<uint16_t>(size_class);
    e.thread = static_cast<uint32_t>(seq_ % 2);
    return writer_.Append(e);
  }

  absl::Status Mark(const std::string& label) {
    Marker marker;
    marker.set_seq(seq_);
    marker.set_time_ns(time_ns_);
    marker.set_label(label);
    return writer_.AddMarker(marker);
  }

  uint64_t time_ns() const { return time_ns_; }

 private:
  TraceWriter& writer_;
  uint64_t seq_ = 0;
  uint64_t time_ns_ = 0;
};

}  // namespace

absl::Status WriteScatterDeleteTrace(const std::string& path, uint32_t slabs) {
  TraceHeader header = JemallocTestHeader();
  header.clear_command_line();
  header.add_command_line("scatter-delete-fixture");
  header.add_command_line(absl::StrCat("--slabs=", slabs));
  absl::StatusOr<SlabGeometry> geometry = SlabGeometry::Create(header);
  if (!geometry.ok()) return geometry.status();
  const uint32_t big = geometry->ClassForSize(1280);
  const uint32_t small = geometry->ClassForSize(64);
  const uint64_t big_slab = geometry->slab_size(big);
  const uint32_t big_regions = geometry->nregs(big);
  const uint64_t small_slab = geometry->slab_size(small);
  const uint32_t small_regions = geometry->nregs(small);

  absl::StatusOr<std::unique_ptr<TraceWriter>> writer =
      TraceWriter::Create(path, header);
  if (!writer.ok()) return writer.status();
  Script script(**writer);
  std::vector<uint64_t> small_live;
  for (uint32_t s = 0; s < slabs; ++s) {
    for (uint32_t r = 0; r < big_regions; ++r) {
      const uint64_t ptr = kBigBase + s * big_slab + r * 1280ull;
      if (absl::Status st = script.Event(EventKind::kAlloc, ptr, big, 1200);
          !st.ok()) {
        return st;
      }
    }
    // A 64-byte object now and then, in 8 slabs.
    const uint64_t small_ptr =
        kSmallBase + (s % 8) * small_slab + ((s / 8) % small_regions) * 64;
    if (s / 8 < small_regions) {
      if (absl::Status st =
              script.Event(EventKind::kAlloc, small_ptr, small, 50);
          !st.ok()) {
        return st;
      }
      small_live.push_back(small_ptr);
    }
  }
  if (absl::Status st = script.Mark("after-fill"); !st.ok()) return st;
  for (uint32_t s = 0; s < slabs; ++s) {
    for (uint32_t r = 1; r < big_regions; r += 2) {
      const uint64_t ptr = kBigBase + s * big_slab + r * 1280ull;
      if (absl::Status st = script.Event(EventKind::kFree, ptr, big, 0);
          !st.ok()) {
        return st;
      }
    }
  }
  for (size_t i = 0; i < small_live.size(); i += 3) {
    if (absl::Status st =
            script.Event(EventKind::kFree, small_live[i], small, 0);
        !st.ok()) {
      return st;
    }
  }
  if (absl::Status st = script.Mark("after-delete"); !st.ok()) return st;
  TraceTrailer trailer;
  trailer.set_complete(true);
  trailer.set_end_time_ns(script.time_ns());
  return (*writer)->Close(trailer);
}

}  // namespace slabtrace
