#include "tools/report/testing/synthetic_report.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace slabtrace {
namespace {

constexpr uint32_t kBigClass = 21;  // 1280 B, 16 regions, 20 KiB slabs
constexpr uint64_t kBigSize = 1280;
constexpr uint32_t kBigRegions = 16;
constexpr uint32_t kSmallClass = 4;  // 64 B, 64 regions, 4 KiB slabs
constexpr uint64_t kSmallSize = 64;
constexpr uint32_t kSmallRegions = 64;
constexpr uint64_t kSecond = 1000000000;
constexpr uint64_t kStart = 1700000000 * kSecond;
constexpr uint64_t kDuration = 20 * kSecond;

bool Drains(const std::string& policy) {
  return policy == "oracle" || policy == "compact";
}

// Live objects of the 1280-byte class at fraction t of the trace: filled
// over [0.05, 0.45], half deleted over [0.55, 0.6].
double BigLive(double t, double full) {
  if (t < 0.05) return 0;
  if (t < 0.45) return full * (t - 0.05) / 0.4;
  if (t < 0.55) return full;
  if (t < 0.6) return full * (1 - 0.5 * (t - 0.55) / 0.05);
  return full / 2;
}

// A fixed, uneven occupancy for the 64-byte class so its map is not flat.
uint32_t SmallSlabLive(size_t i) {
  return static_cast<uint32_t>((i * 37 + (i / 7) * 11) % (kSmallRegions + 1));
}

void FillTimeline(const SyntheticReportShape& shape, ReportInput* input) {
  ReportTimeline& t = input->timeline;
  const double full = static_cast<double>(shape.slabs) * kBigRegions;
  const double slab_bytes = kBigSize * kBigRegions;
  t.policies = shape.policies;
  t.dsr_series = shape.policies;
  t.dsr.assign(shape.policies.size(), {});
  t.policy_footprint_bytes.assign(shape.policies.size(), {});
  t.dsr_window = "since the previous marker";
  for (size_t i = 0; i < shape.sweeps; ++i) {
    const double f =
        shape.sweeps > 1 ? static_cast<double>(i) / (shape.sweeps - 1) : 1;
    const double live = BigLive(f, full);
    const double slabs_if_recorded =
        f < 0.55 ? std::ceil(live / kBigRegions) : shape.slabs;
    t.time_ns.push_back(kStart + static_cast<uint64_t>(f * kDuration));
    t.dsr_time_ns.push_back(t.time_ns.back());
    t.policy_time_ns.push_back(t.time_ns.back());
    t.live_bytes.push_back(live * kBigSize);
    t.footprint_bytes.push_back(slabs_if_recorded * slab_bytes);
    t.packing_bound_bytes.push_back(std::ceil(live / kBigRegions) * slab_bytes);
    for (size_t p = 0; p < shape.policies.size(); ++p) {
      // The window opens at "after-fill" (f = 0.5); before it, at the
      // start, when nothing is held yet (undefined).
      double dsr = 0;
      if (live == 0) {
        dsr = std::numeric_limits<double>::quiet_NaN();
      } else if (Drains(shape.policies[p]) && f >= 0.5) {
        dsr = (full - live) / full;
      }
      t.dsr[p].push_back(dsr);
      t.policy_footprint_bytes[p].push_back(Drains(shape.policies[p])
                                                ? t.packing_bound_bytes.back()
                                                : t.footprint_bytes.back());
    }
  }
}

MarkerReport Marker(const SyntheticReportShape& shape, const std::string& label,
                    double f, bool deleted) {
  MarkerReport m;
  m.label = label + shape.label_suffix;
  m.time_ns = kStart + static_cast<uint64_t>(f * kDuration);
  m.event_index = static_cast<uint64_t>(f * shape.slabs * kBigRegions * 3);
  const uint32_t big_live = deleted ? kBigRegions / 2 : kBigRegions;
  const uint64_t slab_bytes = kBigSize * kBigRegions;
  const uint64_t live_objects = shape.slabs * big_live;
  for (const std::string& policy : shape.policies) {
    PolicyAtMarker row;
    row.policy = policy;
    row.dsr_defined = true;
    row.held_granules = shape.slabs;
    row.pinned_slabs = shape.slabs;
    if (deleted && Drains(policy)) {
      row.dsr = 0.5;
      row.pinned_slabs = shape.slabs / 2;
    }
    row.footprint_bytes = row.pinned_slabs * slab_bytes;
    row.peak_footprint_bytes = shape.slabs * slab_bytes;
    row.stranded_bytes = static_cast<int64_t>(row.footprint_bytes) -
                         static_cast<int64_t>(live_objects * kBigSize);
    row.footprint_ratio = static_cast<double>(row.pinned_slabs) / shape.slabs;
    row.classes.push_back({kBigClass, true, row.dsr});
    m.policies.push_back(row);
  }

  SlabMapData small{kSmallClass, kSmallSize, kSmallRegions, {}};
  uint64_t small_live = 0, small_pinned = 0;
  for (size_t i = 0; i < shape.small_class_slabs; ++i) {
    const uint32_t live = SmallSlabLive(i);
    small.live.push_back(live);
    small_live += live;
    small_pinned += live > 0;
    if (live > 0) {
      ++m.histogram[std::min<size_t>(9, live * 10 / kSmallRegions)];
    }
  }
  ClassAtMarker small_row{kSmallClass,   kSmallSize,
                          kSmallRegions, 4096,
                          small_live,    small_live * kSmallSize,
                          small_pinned,  small_pinned * 4096};
  small_row.stranded_bytes =
      static_cast<int64_t>(small_row.footprint_bytes - small_row.live_bytes);
  small_row.dsr_defined = true;
  m.classes.push_back(small_row);

  ClassAtMarker big{kBigClass,    kBigSize,
                    kBigRegions,  slab_bytes,
                    live_objects, live_objects * kBigSize,
                    shape.slabs,  shape.slabs * slab_bytes};
  big.stranded_bytes =
      static_cast<int64_t>(big.footprint_bytes - big.live_bytes);
  big.dsr_defined = true;
  m.classes.push_back(big);
  m.histogram[std::min<size_t>(9, big_live * 10 / kBigRegions)] += shape.slabs;

  ClassAtMarker large{36, 16384, 0, 16384, 12, 12 * 16384, 12, 12 * 16384};
  large.dsr_defined = true;
  m.classes.push_back(large);

  m.slab_maps.push_back(std::move(small));
  m.slab_maps.push_back({kBigClass, kBigSize, kBigRegions,
                         std::vector<uint32_t>(shape.slabs, big_live)});
  return m;
}

}  // namespace

ReportInput ScatterDeleteReport(const SyntheticReportShape& shape) {
  ReportInput input;
  input.facts.file = "scatter-delete.slabtrace";
  input.facts.program =
      "/usr/bin/redis-server --port 6390 --save '' --appendonly no";
  input.facts.first_time_ns = kStart;
  input.facts.last_time_ns = kStart + kDuration;
  input.facts.events = shape.slabs * kBigRegions * 3;
  input.facts.threads = 4;
  input.facts.allocator = "jemalloc";
  input.facts.allocator_version =
      "5.3.0-0-g54eaed1d8b56b1aa528be3bdd1877e59c56fa90c";
  input.facts.page_size = 4096;
  FillTimeline(shape, &input);
  input.markers.push_back(Marker(shape, "after-fill", 0.5, false));
  input.markers.push_back(Marker(shape, "after-delete", 0.62, true));
  return input;
}

}  // namespace slabtrace
