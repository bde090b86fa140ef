// Writes a small synthetic trace (testdata/sample.slabtrace) from
// RedisLikeStream: a load phase, a phase that deletes keys, and a mixed
// phase, with a marker after each carrying allocator statistics computed
// from the stream itself (application-level: curregs = live objects per
// class, curslabs = slabs holding one or more of them). Deterministic:
// the same arguments give the same bytes.
//
//   bazel run //proto:make_sample_trace -- OUT [EVENTS] [SEED]

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "proto/slab_geometry.h"
#include "proto/testing/redis_like_stream.h"
#include "proto/testing/test_header.h"
#include "proto/trace_writer.h"

namespace slabtrace {
namespace {

// Live objects per class and per slab, to fill the markers' stats.
class LiveCounter {
 public:
  explicit LiveCounter(const SlabGeometry* geometry)
      : geometry_(geometry),
        regs_(geometry->num_classes(), 0),
        slabs_(geometry->num_classes(), 0) {}

  void Apply(const Event& e) {
    if (e.kind == EventKind::kResize) return;
    const int delta = e.kind == EventKind::kAlloc ? 1 : -1;
    regs_[e.size_class] += delta;
    if (!geometry_->is_small(e.size_class)) {
      large_[e.size_class] += delta;
      return;
    }
    uint64_t& live = per_slab_[e.slab];
    if (delta > 0 && live++ == 0) ++slabs_[e.size_class];
    if (delta < 0 && --live == 0) {
      --slabs_[e.size_class];
      per_slab_.erase(e.slab);
    }
  }

  AllocatorStats Stats(uint32_t threads) const {
    AllocatorStats stats;
    uint64_t allocated = 0;
    for (int c = 0; c < geometry_->num_classes(); ++c) {
      allocated += regs_[c] * geometry_->region_size(c);
      if (geometry_->is_small(c) && regs_[c] > 0) {
        BinStats* bin = stats.add_bins();
        bin->set_size_class(c);
        bin->set_curregs(regs_[c]);
        bin->set_curslabs(slabs_[c]);
      }
    }
    for (int c = geometry_->nbins(); c < geometry_->num_classes(); ++c) {
      if (regs_[c] > 0) (*stats.mutable_large_curlextents())[c] = regs_[c];
    }
    stats.set_allocated(allocated);
    stats.set_threads(threads);
    (*stats.mutable_extra())["source"] = "synthetic, application-level";
    return stats;
  }

 private:
  const SlabGeometry* geometry_;
  std::vector<uint64_t> regs_;
  std::vector<uint64_t> slabs_;
  absl::flat_hash_map<uint64_t, uint64_t> per_slab_;
  absl::flat_hash_map<uint32_t, uint64_t> large_;
};

int Main(int argc, char** argv) {
  if (argc < 2 || argc > 4) {
    std::fprintf(stderr, "usage: make_sample_trace OUT [EVENTS] [SEED]\n");
    return 2;
  }
  uint64_t events = 60000;
  uint64_t seed = 1;
  if ((argc > 2 && !absl::SimpleAtoi(argv[2], &events)) ||
      (argc > 3 && !absl::SimpleAtoi(argv[3], &seed))) {
    std::fprintf(stderr, "make_sample_trace: EVENTS and SEED are integers\n");
    return 2;
  }
  TraceHeader header = JemallocTestHeader();
  header.set_recorder_version("synthetic (proto/testing/make_sample_trace)");
  header.set_pid(4242);
  header.add_command_line("redis-server");
  header.add_command_line("--port");
  header.add_command_line("0");
  header.set_host("synthetic");
  header.set_start_time_unix_ns(1767225600000000000);  // 2026-01-01.
  (*header.mutable_metadata())["generator"] = "RedisLikeStream";
  (*header.mutable_metadata())["seed"] = absl::StrCat(seed);

  const SlabGeometry geometry = *SlabGeometry::Create(header);
  TraceWriterOptions options;
  options.events_per_chunk = 8192;
  auto writer = TraceWriter::Create(argv[1], header, options);
  if (!writer.ok()) {
    std::fprintf(stderr, "make_sample_trace: %s\n",
                 std::string(writer.status().message()).c_str());
    return 1;
  }
  RedisLikeStream stream(header, {.seed = seed, .max_live_objects = 6000});
  LiveCounter live(&geometry);
  const char* phases[] = {"loaded", "steady", "end"};
  absl::flat_hash_map<uint32_t, bool> threads;
  // Calls as a recorder counts them: a moving realloc (kAlloc + kFree with
  // api kRealloc) is one call.
  std::vector<uint64_t> calls(kNumAllocApis, 0);
  uint64_t realloc_in_place = 0, realloc_moved = 0, realloc_from_null = 0;
  Event e;
  Event previous;
  for (uint64_t i = 0; i < events; ++i) {
    stream.Next(&e);
    live.Apply(e);
    threads[e.thread] = true;
    const bool second_half_of_realloc =
        i > 0 && e.kind == EventKind::kFree && e.api == AllocApi::kRealloc &&
        previous.kind == EventKind::kAlloc && previous.api == e.api;
    if (!second_half_of_realloc) ++calls[static_cast<int>(e.api)];
    // Outcome keys as the recorder writes them (record/call_accounting.h):
    // a realloc's kAlloc is "from_null" until its kFree shows it moved.
    if (e.api == AllocApi::kRealloc) {
      if (e.kind == EventKind::kResize) ++realloc_in_place;
      if (e.kind == EventKind::kAlloc) ++realloc_from_null;
      if (second_half_of_realloc) --realloc_from_null, ++realloc_moved;
    }
    previous = e;
    absl::Status status = (*writer)->Append(e);
    if (!status.ok()) {
      std::fprintf(stderr, "make_sample_trace: %s\n",
                   std::string(status.message()).c_str());
      return 1;
    }
    const uint64_t phase = (i + 1) * 3 / events;
    if ((i + 1) * 3 % events < 3 && phase >= 1 && phase <= 3) {
      Marker marker;
      marker.set_seq(e.seq + 1);
      marker.set_time_ns(e.time_ns);
      marker.set_label(phases[phase - 1]);
      *marker.mutable_stats() =
          live.Stats(static_cast<uint32_t>(threads.size()));
      (void)(*writer)->AddMarker(marker);
    }
  }
  TraceTrailer trailer;
  trailer.set_threads(static_cast<uint32_t>(threads.size()));
  for (int api = 0; api < kNumAllocApis; ++api) {
    if (calls[api] == 0) continue;
    (*trailer.mutable_calls_by_api())[std::string(
        AllocApiName(static_cast<AllocApi>(api)))] = calls[api];
  }
  auto& outcomes = *trailer.mutable_calls_by_api();
  if (realloc_in_place > 0) outcomes["realloc.in_place"] = realloc_in_place;
  if (realloc_moved > 0) outcomes["realloc.moved"] = realloc_moved;
  if (realloc_from_null > 0) outcomes["realloc.from_null"] = realloc_from_null;
  absl::Status status = (*writer)->Close(trailer);
  if (!status.ok()) {
    std::fprintf(stderr, "make_sample_trace: %s\n",
                 std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace slabtrace

int main(int argc, char** argv) { return slabtrace::Main(argc, argv); }
