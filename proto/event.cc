#include "proto/event.h"

namespace slabtrace {

absl::string_view EventKindName(EventKind kind) {
  switch (kind) {
    case EventKind::kAlloc:
      return "alloc";
    case EventKind::kFree:
      return "free";
    case EventKind::kResize:
      return "resize";
  }
  return "unknown";
}

absl::string_view AllocApiName(AllocApi api) {
  switch (api) {
    case AllocApi::kMalloc:
      return "malloc";
    case AllocApi::kCalloc:
      return "calloc";
    case AllocApi::kRealloc:
      return "realloc";
    case AllocApi::kReallocarray:
      return "reallocarray";
    case AllocApi::kFree:
      return "free";
    case AllocApi::kPosixMemalign:
      return "posix_memalign";
    case AllocApi::kAlignedAlloc:
      return "aligned_alloc";
    case AllocApi::kMemalign:
      return "memalign";
    case AllocApi::kValloc:
      return "valloc";
    case AllocApi::kPvalloc:
      return "pvalloc";
    case AllocApi::kMallocx:
      return "mallocx";
    case AllocApi::kRallocx:
      return "rallocx";
    case AllocApi::kXallocx:
      return "xallocx";
    case AllocApi::kDallocx:
      return "dallocx";
    case AllocApi::kSdallocx:
      return "sdallocx";
    case AllocApi::kOperatorNew:
      return "operator_new";
    case AllocApi::kOperatorNewArray:
      return "operator_new_array";
    case AllocApi::kOperatorDelete:
      return "operator_delete";
    case AllocApi::kOperatorDeleteArray:
      return "operator_delete_array";
    case AllocApi::kUnknown:
      return "unknown";
  }
  return "unknown";
}

}  // namespace slabtrace
