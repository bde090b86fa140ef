#include "proto/testing/trace_items.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <random>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/message_differencer.h"
#include "proto/slab_geometry.h"

namespace slabtrace {

bool operator==(const TraceItem& a, const TraceItem& b) {
  if (a.is_marker != b.is_marker) return false;
  if (!a.is_marker) return a.event == b.event;
  return google::protobuf::util::MessageDifferencer::Equals(a.marker, b.marker);
}

namespace {

uint64_t RandomPointer(std::mt19937_64& rng) {
  switch (rng() % 8) {
    case 0:
      return rng();  // anything, usually unaligned.
    case 1:
      return rng() % 4096;
    case 2:
      return 0x7f0000000000 + (rng() % (1 << 20)) * 8 + 3;  // unaligned.
    default:
      return 0x7f0000000000 + (rng() % (1 << 24)) * 16;
  }
}

uint64_t RandomSize(std::mt19937_64& rng) {
  switch (rng() % 6) {
    case 0:
      return 0;
    case 1:
      return rng();
    case 2:
      return rng() % (1 << 20);
    default:
      return rng() % 2048;
  }
}

Marker RandomMarker(std::mt19937_64& rng, uint64_t seq, uint64_t time_ns) {
  Marker marker;
  marker.set_seq(seq);
  marker.set_time_ns(time_ns);
  marker.set_label(absl::StrCat("marker-", rng() % 1000));
  if (rng() % 2 == 0) {
    AllocatorStats* stats = marker.mutable_stats();
    stats->set_allocated(rng() % (1ull << 40));
    stats->set_active(rng() % (1ull << 40));
    stats->set_threads(static_cast<uint32_t>(rng() % 16));
    for (uint32_t c = 0; c < 4; ++c) {
      BinStats* bin = stats->add_bins();
      bin->set_size_class(c);
      bin->set_curslabs(rng() % 10000);
      bin->set_curregs(rng() % 100000);
    }
    (*stats->mutable_extra())["used_memory"] = absl::StrCat(rng() % 100000);
  }
  return marker;
}

}  // namespace

std::vector<TraceItem> RandomTraceItems(uint64_t seed, int num_events,
                                        const TraceHeader& header) {
  std::mt19937_64 rng(seed);
  const absl::StatusOr<SlabGeometry> geometry = SlabGeometry::Create(header);
  const uint64_t resolution =
      header.time_resolution_ns() == 0 ? 1 : header.time_resolution_ns();
  std::vector<TraceItem> items;
  uint64_t seq = rng() % 1000;
  uint64_t ticks = 0;
  for (int i = 0; i < num_events; ++i) {
    if (rng() % 97 == 0) {
      TraceItem item;
      item.is_marker = true;
      item.marker = RandomMarker(rng, seq, ticks * resolution);
      items.push_back(item);
    }
    if (rng() % 61 == 0) seq += 1 + rng() % 100000;  // a gap.
    // Mostly forward, sometimes backwards (threads' clocks interleave).
    switch (rng() % 10) {
      case 0:
        ticks -= std::min<uint64_t>(ticks, rng() % 50);
        break;
      case 1:
        ticks += rng() % 1000000;
        break;
      default:
        ticks += rng() % 4;
    }
    TraceItem item;
    Event& e = item.event;
    e.seq = seq++;
    e.time_ns = ticks * resolution;
    e.kind = static_cast<EventKind>(rng() % kNumEventKinds);
    e.api = static_cast<AllocApi>(rng() % kNumAllocApis);
    e.thread = rng() % 5 == 0 ? static_cast<uint32_t>(rng()) : rng() % 3;
    e.size = RandomSize(rng);
    e.size_class = static_cast<uint16_t>(rng() % header.size_classes_size());
    e.ptr = RandomPointer(rng);
    e.slab = geometry.ok() ? geometry->GranuleOf(e.ptr, e.size_class) : 0;
    items.push_back(item);
  }
  return items;
}

std::vector<TraceItem> RandomSlabTraceItems(uint64_t seed, int num_events,
                                            const TraceHeader& header,
                                            int misfits_per_mille) {
  std::mt19937_64 rng(seed);
  const SlabGeometry geometry = *SlabGeometry::Create(header);
  const uint64_t page = geometry.page_size();
  const int num_classes = geometry.num_classes();
  const uint32_t nbins = static_cast<uint32_t>(geometry.nbins());
  const uint64_t resolution =
      header.time_resolution_ns() == 0 ? 1 : header.time_resolution_ns();
  struct Block {
    uint64_t ptr;
    uint16_t size_class;
  };
  std::vector<Block> live;
  std::vector<Block> freed;
  auto pick_class = [&]() -> uint16_t {
    switch (rng() % 8) {
      case 0:
        return 0;
      case 1:
        return static_cast<uint16_t>(nbins - 1);
      case 2:
        return static_cast<uint16_t>(std::min<int>(nbins, num_classes - 1));
      case 3:
        return static_cast<uint16_t>(num_classes - 1);
      default:
        return static_cast<uint16_t>(rng() % num_classes);
    }
  };
  auto new_pointer = [&](uint16_t c) -> uint64_t {
    const uint64_t granule = geometry.is_small(c) ? geometry.slab_size(c)
                                                  : geometry.granule_bytes(c);
    uint64_t base;
    switch (rng() % 16) {
      case 0:  // the lowest slabs.
        base = (rng() % 4) * granule;
        break;
      case 1:  // the highest.
        base = ((~uint64_t{0} - granule) & ~(page - 1)) - (rng() % 4) * page;
        break;
      default:  // a heap of slabs of this class, often the same one.
        base = 0x7f0000000000 + uint64_t{c} * (uint64_t{1} << 32) +
               (rng() % 64) * granule;
    }
    if (!geometry.is_small(c)) {
      return base + (rng() % 2 == 0 ? 0 : rng() % page);
    }
    uint64_t ptr = base + (rng() % geometry.nregs(c)) * geometry.region_size(c);
    if (static_cast<int>(rng() % 1000) < misfits_per_mille) {
      ptr += 1 + rng() % 7;
    }
    return ptr;
  };
  std::vector<TraceItem> items;
  uint64_t seq = rng() % 1000;
  uint64_t ticks = 0;
  for (int i = 0; i < num_events; ++i) {
    if (rng() % 211 == 0) {
      TraceItem item;
      item.is_marker = true;
      item.marker = RandomMarker(rng, seq, ticks * resolution);
      items.push_back(item);
    }
    if (rng() % 997 == 0) seq += 1 + rng() % 100;  // a gap.
    ticks += rng() % 3;
    TraceItem item;
    Event& e = item.event;
    e.seq = seq++;
    e.time_ns = ticks * resolution;
    e.thread = rng() % 7 == 0 ? static_cast<uint32_t>(rng() % 5) : 0;
    const uint64_t r = rng() % 20;
    if (r < 9 || live.empty()) {
      e.kind = EventKind::kAlloc;
      e.api = rng() % 4 == 0 ? AllocApi::kCalloc : AllocApi::kMalloc;
      if (!freed.empty() && rng() % 2 == 0) {  // reuse a recent free.
        const size_t back = std::min<size_t>(freed.size(), 1 + rng() % 80);
        const Block b = freed[freed.size() - back];
        freed.erase(freed.end() - back);
        e.ptr = b.ptr;
        e.size_class = b.size_class;
      } else {
        e.size_class = pick_class();
        e.ptr = new_pointer(e.size_class);
      }
      const uint64_t size = geometry.region_size(e.size_class);
      e.size = rng() % 8 == 0 ? rng() : size - rng() % (size / 4 + 1);
      live.push_back({e.ptr, e.size_class});
    } else if (r < 17) {
      e.kind = EventKind::kFree;
      e.api = rng() % 3 == 0 ? AllocApi::kOperatorDelete : AllocApi::kFree;
      // Mostly the youngest (LIFO), else anyone.
      const size_t at = rng() % 3 != 0
                            ? live.size() - 1 - rng() % 3 % live.size()
                            : rng() % live.size();
      const Block b = live[at];
      live.erase(live.begin() + at);
      e.ptr = b.ptr;
      e.size_class = b.size_class;
      e.size = rng() % 4 == 0 ? rng() % 5000 : 0;
      freed.push_back(b);
    } else if (r < 19) {
      e.kind = EventKind::kResize;
      e.api = AllocApi::kRealloc;
      const Block b = live[rng() % live.size()];
      e.ptr = b.ptr;
      e.size_class = b.size_class;
      e.size = rng() % 10000;
    } else {  // a free of a pointer the stream never allocated.
      e.kind = EventKind::kFree;
      e.api = AllocApi::kSdallocx;
      e.size_class = pick_class();
      e.ptr = new_pointer(e.size_class);
      e.size = rng() % 100000;
    }
    e.slab = geometry.GranuleOf(e.ptr, e.size_class);
    items.push_back(item);
  }
  return items;
}

absl::StatusOr<std::string> WriteTrace(const std::vector<TraceItem>& items,
                                       const TraceHeader& header,
                                       const TraceWriterOptions& options,
                                       bool close) {
  const int fd = memfd_create("trace", MFD_CLOEXEC);
  if (fd < 0) return absl::InternalError("memfd_create failed");
  const int writer_fd = dup(fd);
  absl::StatusOr<std::unique_ptr<TraceWriter>> writer =
      TraceWriter::CreateFromFd(writer_fd, "memory.slabtrace", header, options);
  if (!writer.ok()) {
    ::close(fd);
    return writer.status();
  }
  absl::Status status;
  for (const TraceItem& item : items) {
    status.Update(item.is_marker ? (*writer)->AddMarker(item.marker)
                                 : (*writer)->Append(item.event));
  }
  if (close) {
    status.Update((*writer)->Close());
  } else {
    status.Update((*writer)->Flush());
  }
  writer->reset();
  std::string bytes;
  char buffer[1 << 16];
  for (off_t at = 0;;) {
    const ssize_t n = pread(fd, buffer, sizeof(buffer), at);
    if (n <= 0) break;
    bytes.append(buffer, static_cast<size_t>(n));
    at += n;
  }
  ::close(fd);
  if (!status.ok()) return status;
  return bytes;
}

absl::StatusOr<std::vector<TraceItem>> ReadAllItems(TraceReader* reader) {
  std::vector<TraceItem> items;
  TraceRecord record;
  while (true) {
    absl::StatusOr<bool> more = reader->Next(&record);
    if (!more.ok()) return more.status();
    if (!*more) break;
    if (record.type == TraceRecord::Type::kMarker) {
      TraceItem item;
      item.is_marker = true;
      item.marker = *record.marker;
      items.push_back(item);
    } else {
      for (const Event& e : record.events) {
        TraceItem item;
        item.event = e;
        items.push_back(item);
      }
    }
  }
  return items;
}

}  // namespace slabtrace
