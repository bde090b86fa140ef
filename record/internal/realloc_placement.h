// ReallocPlacement puts the two events of each moving realloc into the
// writer's merged stream where they are consistent with every other thread.
//
// A moving realloc takes ticket T1 before the real call and T2 after it
// (recorder.h). Inside its window (T1, T2) another thread may free the
// block that realloc is about to get (an earlier incarnation of the new
// block) and reuse the block that realloc has just freed (the old block).
// Every such free of the new block precedes every such reuse of the old
// one in time, hence in ticket order, so emitting kAlloc(new), kFree(old)
// right after the last free of the new block staged before T2 is
// consistent for both addresses. Such frees are plain frees or the old
// block of another moving realloc; when that other realloc's pair is
// itself moved later, the pairs that follow it move with it.
//
// Items are emitted in the order they are added, except for the pairs of
// unresolved moves, which wait (and hold back everything behind them)
// until their continuation (T2) arrives. Placement is O(1) per item: a
// pair is moved behind a free when the free is added.
//
// Not thread-safe: the writer thread owns it.

#ifndef SLABTRACE_RECORD_INTERNAL_REALLOC_PLACEMENT_H_
#define SLABTRACE_RECORD_INTERNAL_REALLOC_PLACEMENT_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "proto/event.h"

namespace slabtrace {
namespace record_internal {

class ReallocPlacement {
 public:
  // Receives the items in their final order.
  class Output {
   public:
    virtual ~Output() = default;
    virtual void EmitEvent(const Event& event) = 0;
    // The next marker in the order they were added (the caller keeps them).
    virtual void EmitMarker() = 0;
  };

  explicit ReallocPlacement(Output* output) : output_(output) {}

  // True when nothing waits: the caller may then emit an event straight to
  // its output instead of adding it (the writer's common case).
  bool idle() const { return unresolved_moves_ == 0 && staged_.empty(); }

  void AddEvent(const Event& event);
  void AddMarker();
  // The pair of a moving realloc whose first ticket is `first_ticket`; it
  // waits for Resolve(first_ticket).
  void AddMove(uint64_t first_ticket, const Event& alloc, const Event& free);
  // The continuation of a move has arrived: its pair is placed for good.
  // Unknown tickets are ignored (recording stopped in between).
  void Resolve(uint64_t first_ticket);
  // Emits everything, unresolved pairs where they stand.
  void Finish();

  size_t staged() const { return staged_.size(); }
  int unresolved_moves() const { return unresolved_moves_; }

 private:
  struct Item {
    enum class Type { kEvent, kMarker, kMove, kDone };
    Type type = Type::kEvent;
    bool resolved = false;  // kMove: its continuation has arrived.
    Event event;            // kEvent; kMove: kAlloc of the new block.
    Event free_event;       // kMove: kFree of the old block.
    uint64_t move_ticket = 0;
  };

  void Stage(const Item& item);
  // `freed` has just been staged as freed: every unresolved move that got
  // it goes behind, and so on for the blocks those moves freed, at most
  // `depth` levels (a bound against cyclic input).
  void FollowFree(uint64_t freed, int depth);
  // Moves the pair of `ticket` to the end of the queue; returns the block
  // it frees.
  uint64_t MoveToEnd(uint64_t ticket);
  void EmitReady(bool everything);

  Output* const output_;
  std::deque<Item> staged_;
  uint64_t staged_popped_ = 0;  // absolute index of staged_.front().
  int unresolved_moves_ = 0;
  // Unresolved moves: first ticket -> absolute index of its item.
  absl::flat_hash_map<uint64_t, uint64_t> move_at_;
  // New block address -> tickets of the unresolved moves that got it. More
  // than one move can be in flight for one address: a move that got q,
  // resolved, and freed q, while an older move (lower T1) later got q too.
  absl::flat_hash_map<uint64_t, std::vector<uint64_t>> move_of_new_block_;
};

}  // namespace record_internal
}  // namespace slabtrace

#endif  // SLABTRACE_RECORD_INTERNAL_REALLOC_PLACEMENT_H_
