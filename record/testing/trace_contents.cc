#include "record/testing/trace_contents.h"

#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "proto/trace_reader.h"

namespace slabtrace {

EventCounts TraceContents::CountEvents() const {
  EventCounts counts = {};
  for (const Event& event : events) {
    ++counts[static_cast<int>(event.api)][static_cast<int>(event.kind)];
  }
  return counts;
}

absl::StatusOr<TraceContents> ReadWholeTrace(const std::string& path) {
  absl::StatusOr<std::unique_ptr<TraceReader>> reader = TraceReader::Open(path);
  if (!reader.ok()) return reader.status();
  TraceContents trace;
  trace.header = (*reader)->header();
  TraceRecord record;
  for (;;) {
    absl::StatusOr<bool> more = (*reader)->Next(&record);
    if (!more.ok()) return more.status();
    if (!*more) break;
    if (record.type == TraceRecord::Type::kEvents) {
      trace.events.insert(trace.events.end(), record.events.begin(),
                          record.events.end());
    } else {
      trace.markers.push_back(*record.marker);
    }
  }
  trace.trailer = (*reader)->trailer();
  trace.warnings = (*reader)->warnings();
  return trace;
}

absl::Status CheckOrder(const TraceContents& trace, bool allow_unknown_frees) {
  absl::flat_hash_set<uint64_t> live;
  absl::flat_hash_set<uint64_t> ever;
  for (size_t i = 0; i < trace.events.size(); ++i) {
    const Event& event = trace.events[i];
    if (event.seq != i) {
      return absl::DataLossError(
          absl::StrCat("event ", i, " has seq ", event.seq));
    }
    switch (event.kind) {
      case EventKind::kAlloc:
        if (!live.insert(event.ptr).second) {
          return absl::DataLossError(absl::StrCat("seq ", event.seq,
                                                  ": alloc of live address 0x",
                                                  absl::Hex(event.ptr)));
        }
        ever.insert(event.ptr);
        break;
      case EventKind::kFree:
        if (live.erase(event.ptr) == 0 &&
            (!allow_unknown_frees || ever.contains(event.ptr))) {
          return absl::DataLossError(
              absl::StrCat("seq ", event.seq, ": free of address 0x",
                           absl::Hex(event.ptr), " that is not live"));
        }
        break;
      case EventKind::kResize:
        if (!live.contains(event.ptr) &&
            (!allow_unknown_frees || ever.contains(event.ptr))) {
          return absl::DataLossError(
              absl::StrCat("seq ", event.seq, ": resize of address 0x",
                           absl::Hex(event.ptr), " that is not live"));
        }
        break;
    }
  }
  uint64_t previous = 0;
  for (const Marker& marker : trace.markers) {
    if (marker.seq() < previous || marker.seq() > trace.events.size()) {
      return absl::DataLossError(
          absl::StrCat("marker '", marker.label(), "' at seq ", marker.seq()));
    }
    previous = marker.seq();
  }
  return absl::OkStatus();
}

}  // namespace slabtrace
