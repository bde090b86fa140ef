#include "sim/testing/random_object_stream.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "sim/testing/vector_object_stream.h"

namespace slabtrace {
namespace {

constexpr uint64_t kFakeBase = uint64_t{1} << 44;

}  // namespace

absl::StatusOr<std::unique_ptr<RandomObjectStream>> RandomObjectStream::Create(
    const TraceHeader& header, const RandomStreamOptions& options) {
  absl::StatusOr<SlabGeometry> geometry = SlabGeometry::Create(header);
  if (!geometry.ok()) return geometry.status();
  return std::unique_ptr<RandomObjectStream>(
      new RandomObjectStream(header, *std::move(geometry), options));
}

RandomObjectStream::RandomObjectStream(const TraceHeader& header,
                                       SlabGeometry geometry,
                                       const RandomStreamOptions& options)
    : header_(header),
      geometry_(std::move(geometry)),
      options_(options),
      state_(options.seed * 0x9E3779B97F4A7C15ull + 1),
      classes_(geometry_.num_classes()) {
  for (int c = 0; c < geometry_.num_classes(); ++c) {
    const uint64_t size = geometry_.region_size(c);
    if (geometry_.is_small(c)) {
      // Redis-like: many small keys and values; the weight falls with size.
      const int weight = size <= 128 ? 6 : size <= 1280 ? 3 : 1;
      for (int w = 0; w < weight; ++w) small_classes_.push_back(c);
    } else if (size <= (uint64_t{1} << 20)) {
      large_classes_.push_back(c);
    }
  }
}

uint64_t RandomObjectStream::Random() {  // splitmix64
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint32_t RandomObjectStream::PickClass() {
  const double u = static_cast<double>(Random() >> 11) * 0x1.0p-53;
  if (u < options_.large_share && !large_classes_.empty()) {
    return large_classes_[Random() % large_classes_.size()];
  }
  return small_classes_[Random() % small_classes_.size()];
}

void RandomObjectStream::Place(uint32_t size_class, uint64_t* slab,
                               uint32_t* region) {
  const uint32_t capacity =
      geometry_.is_small(size_class) ? geometry_.nregs(size_class) : 1;
  ClassSlabs& slabs = classes_[size_class];
  uint32_t slot;
  if (slabs.with_room.empty()) {
    slot = static_cast<uint32_t>(slabs.used.size());
    slabs.used.emplace_back((capacity + 63) / 64, 0);
    slabs.fill.push_back(0);
    slabs.with_room.insert(slot);
  } else {
    slot = *slabs.with_room.begin();
  }
  std::vector<uint64_t>& used = slabs.used[slot];
  uint32_t r = 0;
  for (size_t w = 0; w < used.size(); ++w) {
    if (~used[w] != 0) {
      r = static_cast<uint32_t>(w * 64 + __builtin_ctzll(~used[w]));
      break;
    }
  }
  used[r / 64] |= uint64_t{1} << (r % 64);
  if (++slabs.fill[slot] == capacity) slabs.with_room.erase(slot);
  *slab = kFakeBase + (uint64_t{size_class} << 36) +
          uint64_t{slot} * geometry_.granule_bytes(size_class);
  *region = r;
}

void RandomObjectStream::Unplace(const LiveObject& object) {
  ClassSlabs& slabs = classes_[object.size_class];
  const uint32_t slot = static_cast<uint32_t>(
      (object.slab - kFakeBase - (uint64_t{object.size_class} << 36)) /
      geometry_.granule_bytes(object.size_class));
  slabs.used[slot][object.region / 64] &=
      ~(uint64_t{1} << (object.region % 64));
  --slabs.fill[slot];
  slabs.with_room.insert(slot);
}

void RandomObjectStream::EmitAlloc(ObjectEvent* event) {
  LiveObject object;
  object.id = seq_;
  object.size_class = PickClass();
  object.thread = static_cast<uint32_t>(Random() % options_.threads);
  Place(object.size_class, &object.slab, &object.region);
  live_.push_back(object);
  event->kind = ObjectEvent::Kind::kAlloc;
  event->object_id = object.id;
  event->size = geometry_.region_size(object.size_class);
  event->size_class = object.size_class;
  event->thread = object.thread;
  event->recorded_slab = object.slab;
  event->recorded_region = object.region;
}

void RandomObjectStream::EmitFree(ObjectEvent* event) {
  // Most frees are of temporaries (the newest object), the rest of any live
  // object, as in a server answering requests over a long-lived data set.
  const size_t i =
      Random() % 4 != 0 ? live_.size() - 1 : Random() % live_.size();
  const LiveObject object = live_[i];
  live_[i] = live_.back();
  live_.pop_back();
  Unplace(object);
  event->kind = ObjectEvent::Kind::kFree;
  event->object_id = object.id;
  event->size_class = object.size_class;
  // Frees come from any thread, as in a server handing buffers around.
  event->thread = static_cast<uint32_t>(Random() % options_.threads);
  event->recorded_slab = object.slab;
  event->recorded_region = object.region;
}

bool RandomObjectStream::EmitResize(ObjectEvent* event) {
  LiveObject& object = live_[Random() % live_.size()];
  if (geometry_.is_small(object.size_class) || large_classes_.empty()) {
    return false;
  }
  const uint32_t new_class = large_classes_[Random() % large_classes_.size()];
  if (new_class == object.size_class) return false;
  Unplace(object);
  event->kind = ObjectEvent::Kind::kResize;
  event->object_id = object.id;
  event->old_size_class = object.size_class;
  event->size_class = new_class;
  event->size = geometry_.region_size(new_class);
  event->thread = object.thread;
  object.size_class = new_class;
  Place(new_class, &object.slab, &object.region);
  event->recorded_slab = object.slab;
  event->recorded_region = object.region;
  return true;
}

absl::StatusOr<bool> RandomObjectStream::Next(ObjectEvent* event) {
  if (emitted_ >= options_.events) return false;
  *event = ObjectEvent();
  event->seq = seq_;
  event->time_ns = seq_ * 1000;  // 1 µs per event.
  if (emitted_ > 0 && options_.phase_events > 0 &&
      emitted_ % options_.phase_events == 0 &&
      (markers_.empty() || markers_.back().seq() != seq_)) {
    growing_ = !growing_;
    Marker& marker = markers_.emplace_back();
    if (markers_.size() > 2) markers_.pop_front();
    marker.set_seq(seq_);
    marker.set_time_ns(event->time_ns);
    marker.set_label(absl::StrCat(growing_ ? "grow-" : "shrink-",
                                  emitted_ / options_.phase_events));
    event->kind = ObjectEvent::Kind::kMarker;
    event->marker = &markers_.back();
    return true;
  }
  // Growth phases allocate 3 times in 4 (until max_live), shrink phases
  // free 5 times in 8; 1 in 64 events tries an in-place large resize.
  const uint64_t roll = Random() % 64;
  if (roll == 0 && !live_.empty() && EmitResize(event)) {
  } else {
    const bool alloc =
        live_.empty() || (live_.size() < options_.max_live &&
                          (growing_ ? roll % 4 != 0 : roll % 8 < 3));
    if (alloc) {
      EmitAlloc(event);
    } else {
      EmitFree(event);
    }
  }
  ++seq_;
  ++emitted_;
  return true;
}

StreamFactory RandomStreamFactory(TraceHeader header,
                                  RandomStreamOptions options) {
  return [header = std::move(header),
          options]() -> absl::StatusOr<std::unique_ptr<ObjectStream>> {
    absl::StatusOr<std::unique_ptr<RandomObjectStream>> stream =
        RandomObjectStream::Create(header, options);
    if (!stream.ok()) return stream.status();
    return std::unique_ptr<ObjectStream>(std::move(*stream));
  };
}

absl::StatusOr<StreamContents> Materialize(ObjectStream& stream) {
  StreamContents contents;
  contents.header = stream.header();
  ObjectEvent event;
  while (true) {
    absl::StatusOr<bool> more = stream.Next(&event);
    if (!more.ok()) return more.status();
    if (!*more) break;
    if (event.kind == ObjectEvent::Kind::kMarker) {
      contents.markers.push_back(*event.marker);
      event.marker = nullptr;
    }
    contents.events.push_back(event);
  }
  return contents;
}

}  // namespace slabtrace
