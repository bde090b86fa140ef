#include "sim/testing/vector_object_stream.h"

#include <utility>

namespace slabtrace {
namespace {

// Fake recorded addresses: class c's slot s is at kFakeBase + (c << 36) +
// s * granule bytes (granules are at most a few GiB in test streams).
constexpr uint64_t kFakeBase = uint64_t{1} << 44;

uint64_t GranuleBytes(const TraceHeader& header, uint32_t c) {
  const SizeClass& sc = header.size_classes(c);
  if (sc.nregs() > 0) return sc.slab_size();
  const uint64_t page = header.page_size();
  return (sc.size() + page - 1) / page * page;
}

}  // namespace

VectorObjectStream::VectorObjectStream(const StreamContents& contents,
                                       SlabGeometry geometry)
    : contents_(contents), geometry_(std::move(geometry)) {}

absl::StatusOr<std::unique_ptr<VectorObjectStream>> VectorObjectStream::Open(
    const StreamContents& contents) {
  absl::StatusOr<SlabGeometry> geometry = SlabGeometry::Create(contents.header);
  if (!geometry.ok()) return geometry.status();
  return std::make_unique<VectorObjectStream>(contents, *std::move(geometry));
}

absl::StatusOr<bool> VectorObjectStream::Next(ObjectEvent* event) {
  if (next_ >= contents_.events.size()) return false;
  *event = contents_.events[next_++];
  if (event->kind == ObjectEvent::Kind::kMarker) {
    event->marker = &contents_.markers[markers_seen_++];
  }
  return true;
}

StreamFactory VectorStreamFactory(const StreamContents& contents) {
  return [&contents]() -> absl::StatusOr<std::unique_ptr<ObjectStream>> {
    absl::StatusOr<std::unique_ptr<VectorObjectStream>> stream =
        VectorObjectStream::Open(contents);
    if (!stream.ok()) return stream.status();
    return std::unique_ptr<ObjectStream>(std::move(*stream));
  };
}

StreamBuilder::StreamBuilder(TraceHeader header) {
  contents_.header = std::move(header);
  fake_.resize(contents_.header.size_classes_size());
}

uint32_t StreamBuilder::nregs(uint32_t size_class) const {
  return contents_.header.size_classes(size_class).nregs();
}

uint64_t StreamBuilder::slab_size(uint32_t size_class) const {
  return GranuleBytes(contents_.header, size_class);
}

ObjectEvent StreamBuilder::NextEvent(ObjectEvent::Kind kind) {
  ObjectEvent event;
  event.kind = kind;
  event.seq = seq_++;
  event.time_ns = time_ns_;
  return event;
}

void StreamBuilder::PlaceFirstFit(uint32_t size_class, uint64_t* slab,
                                  uint32_t* region) {
  const uint32_t capacity = std::max(1u, nregs(size_class));
  std::vector<FakeSlab>& slabs = fake_[size_class];
  size_t slot = 0;
  while (slot < slabs.size() && slabs[slot].fill == capacity) ++slot;
  if (slot == slabs.size()) slabs.emplace_back();
  FakeSlab& fake = slabs[slot];
  if (fake.used.empty()) fake.used.assign(capacity, false);
  uint32_t r = 0;
  while (fake.used[r]) ++r;
  fake.used[r] = true;
  ++fake.fill;
  *slab = kFakeBase + (uint64_t{size_class} << 36) +
          slot * GranuleBytes(contents_.header, size_class);
  *region = r;
}

void StreamBuilder::Unplace(const Live& live) {
  const uint64_t granule = GranuleBytes(contents_.header, live.size_class);
  const uint64_t base = kFakeBase + (uint64_t{live.size_class} << 36);
  if (live.slab < base) return;  // an explicit placement, not ours.
  const uint64_t slot = (live.slab - base) / granule;
  std::vector<FakeSlab>& slabs = fake_[live.size_class];
  if (slot >= slabs.size() || slabs[slot].used.empty()) return;
  FakeSlab& fake = slabs[slot];
  if (!fake.used[live.region]) return;
  fake.used[live.region] = false;
  --fake.fill;
}

uint64_t StreamBuilder::Alloc(uint32_t size_class, uint32_t thread) {
  uint64_t slab;
  uint32_t region;
  PlaceFirstFit(size_class, &slab, &region);
  return AllocAt(size_class, slab, region, thread);
}

uint64_t StreamBuilder::AllocAt(uint32_t size_class, uint64_t slab,
                                uint32_t region, uint32_t thread) {
  ObjectEvent event = NextEvent(ObjectEvent::Kind::kAlloc);
  event.object_id = event.seq;
  event.size = contents_.header.size_classes(size_class).size();
  event.size_class = size_class;
  event.thread = thread;
  event.recorded_slab = slab;
  event.recorded_region = region;
  contents_.events.push_back(event);
  live_[event.object_id] = Live{size_class, slab, region};
  return event.object_id;
}

void StreamBuilder::Free(uint64_t object_id, uint32_t thread) {
  auto it = live_.find(object_id);
  ObjectEvent event = NextEvent(ObjectEvent::Kind::kFree);
  event.object_id = object_id;
  event.thread = thread;
  if (it != live_.end()) {
    event.size_class = it->second.size_class;
    event.recorded_slab = it->second.slab;
    event.recorded_region = it->second.region;
    Unplace(it->second);
    live_.erase(it);
  }
  contents_.events.push_back(event);
}

void StreamBuilder::Resize(uint64_t object_id, uint32_t new_class) {
  Live& live = live_.at(object_id);
  ObjectEvent event = NextEvent(ObjectEvent::Kind::kResize);
  event.object_id = object_id;
  event.old_size_class = live.size_class;
  event.size_class = new_class;
  event.size = contents_.header.size_classes(new_class).size();
  Unplace(live);
  uint64_t slab;
  uint32_t region;
  PlaceFirstFit(new_class, &slab, &region);
  live = Live{new_class, slab, region};
  event.recorded_slab = slab;
  event.recorded_region = region;
  contents_.events.push_back(event);
}

void StreamBuilder::Mark(const std::string& label) {
  ObjectEvent event = NextEvent(ObjectEvent::Kind::kMarker);
  --seq_;  // a marker sits between events and takes no seq of its own.
  Marker& marker = contents_.markers.emplace_back();
  marker.set_seq(event.seq);
  marker.set_time_ns(event.time_ns);
  marker.set_label(label);
  contents_.events.push_back(event);
}

}  // namespace slabtrace
