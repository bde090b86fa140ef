#include "record/call_accounting.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace slabtrace {
namespace {

uint64_t Count(const TraceTrailer& trailer, AllocApi api,
               const char* outcome = nullptr) {
  std::string key(AllocApiName(api));
  if (outcome != nullptr) absl::StrAppend(&key, ".", outcome);
  auto it = trailer.calls_by_api().find(key);
  return it == trailer.calls_by_api().end() ? 0 : it->second;
}

bool FreesMemory(AllocApi api) {
  switch (api) {
    case AllocApi::kFree:
    case AllocApi::kDallocx:
    case AllocApi::kSdallocx:
    case AllocApi::kOperatorDelete:
    case AllocApi::kOperatorDeleteArray:
      return true;
    default:
      return false;
  }
}

bool Reallocates(AllocApi api) {
  return api == AllocApi::kRealloc || api == AllocApi::kReallocarray ||
         api == AllocApi::kRallocx;
}

}  // namespace

EventCounts ExpectedEvents(const TraceTrailer& trailer) {
  EventCounts expected = {};
  constexpr int kAlloc = static_cast<int>(EventKind::kAlloc);
  constexpr int kFree = static_cast<int>(EventKind::kFree);
  constexpr int kResize = static_cast<int>(EventKind::kResize);
  for (int i = 0; i < kNumAllocApis; ++i) {
    const AllocApi api = static_cast<AllocApi>(i);
    auto& row = expected[i];
    if (Reallocates(api)) {
      const uint64_t moved = Count(trailer, api, "moved");
      row[kAlloc] = moved + Count(trailer, api, "from_null");
      row[kFree] = moved + Count(trailer, api, "freed");
      row[kResize] = Count(trailer, api, "in_place");
    } else if (api == AllocApi::kXallocx) {
      row[kResize] = Count(trailer, api, "in_place");
    } else if (FreesMemory(api)) {
      row[kFree] = Count(trailer, api) - Count(trailer, api, "null");
    } else if (api != AllocApi::kUnknown) {
      row[kAlloc] = Count(trailer, api) - Count(trailer, api, "failed");
    }
  }
  return expected;
}

absl::Status CheckSymmetricAccounting(const TraceTrailer& trailer,
                                      const EventCounts& counted) {
  const EventCounts expected = ExpectedEvents(trailer);
  uint64_t by_kind[kNumEventKinds] = {};
  for (int i = 0; i < kNumAllocApis; ++i) {
    for (int k = 0; k < kNumEventKinds; ++k) {
      by_kind[k] += expected[i][k];
      if (expected[i][k] != counted[i][k]) {
        return absl::DataLossError(absl::StrCat(
            "calls of ", AllocApiName(static_cast<AllocApi>(i)), " imply ",
            expected[i][k], " ", EventKindName(static_cast<EventKind>(k)),
            " events, the trace has ", counted[i][k]));
      }
    }
  }
  for (int k = 0; k < kNumEventKinds; ++k) {
    const std::string name(EventKindName(static_cast<EventKind>(k)));
    auto it = trailer.events_by_kind().find(name);
    const uint64_t written =
        it == trailer.events_by_kind().end() ? 0 : it->second;
    if (written != by_kind[k]) {
      return absl::DataLossError(absl::StrCat("calls imply ", by_kind[k], " ",
                                              name,
                                              " events, the trailer's "
                                              "events_by_kind says ",
                                              written));
    }
  }
  return absl::OkStatus();
}

}  // namespace slabtrace
