#include "replay/object_stream.h"

#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "proto/trace_reader.h"

namespace slabtrace {
namespace {

// A live object in 8 bytes: its id (an event seq, < 2^48) in the low bits,
// its size class in the top 16.
constexpr int kClassShift = 48;
constexpr uint64_t kIdMask = (uint64_t{1} << kClassShift) - 1;

uint64_t Pack(uint64_t id, uint32_t size_class) {
  return (uint64_t{size_class} << kClassShift) | (id & kIdMask);
}

class TraceObjectStream : public ObjectStream {
 public:
  explicit TraceObjectStream(std::unique_ptr<TraceReader> reader)
      : reader_(std::move(reader)) {}

  const TraceHeader& header() const override { return reader_->header(); }
  const SlabGeometry& geometry() const override { return reader_->geometry(); }
  uint64_t unknown_frees() const override { return unknown_frees_; }
  uint64_t unknown_resizes() const override { return unknown_resizes_; }
  uint64_t invalid_events() const override { return invalid_events_; }

  absl::StatusOr<bool> Next(ObjectEvent* out) override {
    if (pending_.has_value()) {
      *out = *pending_;
      pending_.reset();
      return true;
    }
    while (true) {
      while (next_ < record_.events.size()) {
        if (Translate(record_.events[next_++], out)) return true;
      }
      absl::StatusOr<bool> more = reader_->Next(&record_);
      if (!more.ok()) return more.status();
      if (!*more) return false;
      next_ = 0;
      if (record_.type == TraceRecord::Type::kMarker) {
        record_.events = {};
        *out = ObjectEvent();
        out->kind = ObjectEvent::Kind::kMarker;
        out->seq = record_.marker->seq();
        out->time_ns = record_.marker->time_ns();
        out->marker = record_.marker;
        return true;
      }
    }
  }

 private:
  void Fill(const Event& e, ObjectEvent::Kind kind, uint64_t id,
            uint32_t size_class, ObjectEvent* out) const {
    *out = ObjectEvent();
    out->kind = kind;
    out->object_id = id;
    out->seq = e.seq;
    out->time_ns = e.time_ns;
    out->size = e.size;
    out->size_class = size_class;
    out->thread = e.thread;
    out->recorded_slab = geometry().GranuleOf(e.ptr, size_class);
    out->recorded_region = geometry().RegionOf(e.ptr, size_class);
  }

  // Returns whether `e` produced an item in *out.
  bool Translate(const Event& e, ObjectEvent* out) {
    const bool valid_class = e.size_class < geometry().num_classes();
    switch (e.kind) {
      case EventKind::kAlloc: {
        if (e.ptr == 0) return false;  // a failed allocation.
        // Like SlabOccupancy: a pointer that cannot start a region of its
        // class (slab 0) is an invalid event, so replay and sim agree.
        if (!valid_class || e.slab == 0) {
          ++invalid_events_;
          return false;
        }
        auto [it, inserted] =
            live_.try_emplace(e.ptr, Pack(e.seq, e.size_class));
        if (inserted) {
          Fill(e, ObjectEvent::Kind::kAlloc, e.seq, e.size_class, out);
          return true;
        }
        // The old object must have ended unseen: end it first.
        Fill(e, ObjectEvent::Kind::kFree, it->second & kIdMask,
             static_cast<uint32_t>(it->second >> kClassShift), out);
        out->size = 0;
        it->second = Pack(e.seq, e.size_class);
        pending_.emplace();
        Fill(e, ObjectEvent::Kind::kAlloc, e.seq, e.size_class, &*pending_);
        return true;
      }
      case EventKind::kFree: {
        auto it = live_.find(e.ptr);
        if (it == live_.end()) {
          if (e.ptr != 0) ++unknown_frees_;
          return false;
        }
        Fill(e, ObjectEvent::Kind::kFree, it->second & kIdMask,
             static_cast<uint32_t>(it->second >> kClassShift), out);
        live_.erase(it);
        return true;
      }
      case EventKind::kResize: {
        auto it = live_.find(e.ptr);
        if (it == live_.end()) {
          ++unknown_resizes_;
          return false;
        }
        if (!valid_class || e.slab == 0) {
          ++invalid_events_;
          return false;
        }
        const uint64_t id = it->second & kIdMask;
        const uint32_t old_class =
            static_cast<uint32_t>(it->second >> kClassShift);
        Fill(e, ObjectEvent::Kind::kResize, id, e.size_class, out);
        out->old_size_class = old_class;
        it->second = Pack(id, e.size_class);
        return true;
      }
    }
    return false;
  }

  std::unique_ptr<TraceReader> reader_;
  TraceRecord record_;
  size_t next_ = 0;
  std::optional<ObjectEvent> pending_;
  absl::flat_hash_map<uint64_t, uint64_t> live_;
  uint64_t unknown_frees_ = 0;
  uint64_t unknown_resizes_ = 0;
  uint64_t invalid_events_ = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<ObjectStream>> OpenObjectStream(
    const std::string& path) {
  absl::StatusOr<std::unique_ptr<TraceReader>> reader = TraceReader::Open(path);
  if (!reader.ok()) return reader.status();
  return std::make_unique<TraceObjectStream>(*std::move(reader));
}

}  // namespace slabtrace
