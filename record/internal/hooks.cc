#include "record/internal/hooks.h"

#include <dlfcn.h>

#include <cstdint>
#include <cstring>

#include "proto/event.h"
#include "record/internal/recorder.h"
#include "record/jemalloc_introspection.h"

namespace slabtrace {
namespace record_internal {
namespace {

// jemalloc's hook ABI (include/jemalloc/internal/hook.h, jemalloc >= 5.1),
// declared here because it is not in the public header. Hook types are the
// entry point that made the call; `args` are that call's arguments in
// order.
enum HookAllocType {
  kHookMalloc,
  kHookPosixMemalign,
  kHookAlignedAlloc,
  kHookCalloc,
  kHookMemalign,
  kHookValloc,
  kHookMallocx,
  kHookRealloc,
  kHookRallocx,
};
enum HookDallocType {
  kHookFree,
  kHookDallocx,
  kHookSdallocx,
  kHookDallocRealloc,
  kHookDallocRallocx,
};
enum HookExpandType { kHookExpandRealloc, kHookExpandRallocx, kHookXallocx };

struct Hooks {
  void (*alloc)(void* extra, int type, void* result, uintptr_t result_raw,
                uintptr_t args[3]);
  void (*dalloc)(void* extra, int type, void* address, uintptr_t args[3]);
  void (*expand)(void* extra, int type, void* address, size_t old_usize,
                 size_t new_usize, uintptr_t result_raw, uintptr_t args[4]);
  void* extra;
};

uint16_t ClassOfUsable(size_t usable) {
  return recorder.classes.ClassOf(usable);
}

// Hooks run inside the program's allocator calls, on its threads; the
// recorder's own allocations (busy) are left out, as everywhere else.
void Publish(AllocApi api, SlotType type, CallOutcome outcome, void* ptr,
             uint64_t size, uint16_t size_class) {
  SlotWriter writer;
  Slot* slot = writer.TakeTicket();
  if (slot == nullptr) return;
  slot->api = static_cast<uint8_t>(api);
  slot->type = type;
  slot->outcome = outcome;
  slot->ptr = reinterpret_cast<uintptr_t>(ptr);
  slot->size = size;
  slot->size_class = size_class;
  writer.Publish();
}

// After the allocation: the block is live, so the ticket comes after.
void OnAlloc(void*, int type, void* result, uintptr_t, uintptr_t args[3]) {
  if (result == nullptr || !ShouldRecord()) return;
  AllocApi api = AllocApi::kMalloc;
  uint64_t size = args[0];
  CallOutcome outcome = CallOutcome::kPlain;
  switch (type) {
    case kHookMalloc:
      break;
    case kHookPosixMemalign:
      api = AllocApi::kPosixMemalign;
      size = args[2];
      break;
    case kHookAlignedAlloc:
      api = AllocApi::kAlignedAlloc;
      size = args[1];
      break;
    case kHookCalloc:
      api = AllocApi::kCalloc;
      size = args[0] * args[1];
      break;
    case kHookMemalign:
      api = AllocApi::kMemalign;
      size = args[1];
      break;
    case kHookValloc:
      api = AllocApi::kValloc;
      break;
    case kHookMallocx:
      api = AllocApi::kMallocx;
      break;
    case kHookRealloc:
    case kHookRallocx:
      api = type == kHookRealloc ? AllocApi::kRealloc : AllocApi::kRallocx;
      size = args[1];
      outcome = args[0] == 0 ? CallOutcome::kFromNull : CallOutcome::kMoved;
      break;
    default:
      api = AllocApi::kUnknown;
      break;
  }
  Publish(api, SlotType::kAlloc, outcome, result, size,
          ClassOfUsable(recorder.target.malloc_usable_size(result)));
}

// Before the free: once freed, the block may be handed to another thread,
// whose ticket must come after ours.
void OnDalloc(void*, int type, void* address, uintptr_t args[3]) {
  if (address == nullptr || !ShouldRecord()) return;
  AllocApi api = AllocApi::kFree;
  uint64_t size_passed = 0;
  CallOutcome outcome = CallOutcome::kPlain;
  switch (type) {
    case kHookFree:
      break;
    case kHookDallocx:
      api = AllocApi::kDallocx;
      break;
    case kHookSdallocx:
      api = AllocApi::kSdallocx;
      size_passed = args[1];
      break;
    case kHookDallocRealloc:
    case kHookDallocRallocx:
      api =
          type == kHookDallocRealloc ? AllocApi::kRealloc : AllocApi::kRallocx;
      // realloc(p, 0) calls only this hook; a moving realloc calls the
      // alloc hook for its new block first.
      outcome = args[1] == 0 ? CallOutcome::kFreed : CallOutcome::kSecondHalf;
      break;
    default:
      api = AllocApi::kUnknown;
      break;
  }
  Publish(api, SlotType::kFree, outcome, address, size_passed,
          ClassOfUsable(recorder.target.malloc_usable_size(address)));
}

void OnExpand(void*, int type, void* address, size_t, size_t new_usize,
              uintptr_t, uintptr_t args[4]) {
  if (address == nullptr || !ShouldRecord()) return;
  const AllocApi api = type == kHookExpandRealloc   ? AllocApi::kRealloc
                       : type == kHookExpandRallocx ? AllocApi::kRallocx
                                                    : AllocApi::kXallocx;
  Publish(api, SlotType::kResize, CallOutcome::kInPlace, address, args[1],
          ClassOfUsable(new_usize));
}

Hooks hooks = {&OnAlloc, &OnDalloc, &OnExpand, nullptr};

// The address of a symbol's object file, to tell our own interposer apart
// from a program's definition.
const void* ObjectOf(const void* symbol) {
  Dl_info info;
  return dladdr(symbol, &info) != 0 ? info.dli_fbase : nullptr;
}

}  // namespace

bool ChooseWayIn() {
  recorder.target = recorder.real;
  const char* requested = getenv("SLABTRACE_WAY_IN");
  const bool force_hooks =
      requested != nullptr && std::strcmp(requested, "hooks") == 0;
  const bool force_interpose =
      requested != nullptr && std::strcmp(requested, "interpose") == 0;
  // A program's own jemalloc, if it exports its mallctl (prefixed or not).
  const char* prefix = "je_";
  void* own = dlsym(RTLD_DEFAULT, "je_mallctl");
  if (own == nullptr) {
    prefix = "";
    own = dlsym(RTLD_DEFAULT, "mallctl");
  }
  const bool foreign =
      own != nullptr && own != reinterpret_cast<void*>(recorder.real.mallctl);
  if (foreign && force_interpose) {
    WriteError(
        "the program has its own jemalloc, but SLABTRACE_WAY_IN=interpose: "
        "only calls that reach libjemalloc.so.2 are recorded");
    return true;
  }
  if (!foreign && !force_hooks) return true;
  recorder.use_hooks = true;
  if (!foreign) {
    recorder.way_in = "hooks";
    return true;
  }
  recorder.way_in = "hooks (the program's own jemalloc)";
  if (!recorder.target.ResolveIn(RTLD_DEFAULT, prefix)) return false;
  // An unprefixed copy exported by the program shadows libjemalloc.so.2 for
  // every caller, so it serves the recorder too; never our own interposer.
  if (*prefix == 0 &&
      ObjectOf(reinterpret_cast<void*>(recorder.target.malloc)) !=
          ObjectOf(reinterpret_cast<void*>(&ChooseWayIn))) {
    recorder.real = recorder.target;
  }
  MallctlApi api;
  api.mallctl = recorder.target.mallctl;
  api.nametomib = reinterpret_cast<decltype(api.nametomib)>(dlsym(
      RTLD_DEFAULT, *prefix ? "je_mallctlnametomib" : "mallctlnametomib"));
  api.bymib = reinterpret_cast<decltype(api.bymib)>(
      dlsym(RTLD_DEFAULT, *prefix ? "je_mallctlbymib" : "mallctlbymib"));
  if (api.nametomib == nullptr || api.bymib == nullptr) {
    WriteError("the program's jemalloc exports mallctl but not mallctlbymib");
    return false;
  }
  UseMallctlApi(api);
  return true;
}

bool InstallHooks() {
  if (!recorder.use_hooks) return true;
  void* handle = nullptr;
  size_t handle_size = sizeof(handle);
  if (recorder.target.mallctl("experimental.hooks.install", &handle,
                              &handle_size, &hooks, sizeof(hooks)) != 0 ||
      handle == nullptr) {
    WriteError("jemalloc refused experimental.hooks.install; not recording");
    return false;
  }
  return true;
}

}  // namespace record_internal
}  // namespace slabtrace
