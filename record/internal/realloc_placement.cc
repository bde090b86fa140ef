#include "record/internal/realloc_placement.h"

#include <algorithm>

namespace slabtrace {
namespace record_internal {
namespace {

// How deep a chain of moves in flight FollowFree follows (each level is a
// realloc whose new block another realloc in flight had just freed); a
// bound on the work for input that is not a possible history.
constexpr int kMaxFollowDepth = 16;

}  // namespace

void ReallocPlacement::AddEvent(const Event& event) {
  Item item;
  item.event = event;
  Stage(item);
}

void ReallocPlacement::AddMarker() {
  Item item;
  item.type = Item::Type::kMarker;
  Stage(item);
}

void ReallocPlacement::Stage(const Item& item) {
  if (idle()) {
    if (item.type == Item::Type::kEvent) {
      output_->EmitEvent(item.event);
    } else {
      output_->EmitMarker();
    }
    return;
  }
  staged_.push_back(item);
  if (item.type == Item::Type::kEvent && item.event.kind == EventKind::kFree) {
    FollowFree(item.event.ptr, kMaxFollowDepth);
  }
}

void ReallocPlacement::AddMove(uint64_t first_ticket, const Event& alloc,
                               const Event& free) {
  Item item;
  item.type = Item::Type::kMove;
  item.event = alloc;
  item.free_event = free;
  item.move_ticket = first_ticket;
  ++unresolved_moves_;
  move_of_new_block_[alloc.ptr].push_back(first_ticket);
  move_at_[first_ticket] = staged_popped_ + staged_.size();
  staged_.push_back(item);
  // Its old block may be the new block of a move still in flight, which
  // got it after this realloc freed it.
  FollowFree(free.ptr, kMaxFollowDepth);
}

void ReallocPlacement::FollowFree(uint64_t freed, int depth) {
  if (depth <= 0) return;
  auto moves = move_of_new_block_.find(freed);
  if (moves == move_of_new_block_.end()) return;
  // MoveToEnd changes neither this map nor the vector.
  for (const uint64_t ticket : moves->second) {
    FollowFree(MoveToEnd(ticket), depth - 1);
  }
}

uint64_t ReallocPlacement::MoveToEnd(uint64_t ticket) {
  uint64_t& at = move_at_[ticket];
  Item moved = staged_[at - staged_popped_];
  staged_[at - staged_popped_].type = Item::Type::kDone;
  at = staged_popped_ + staged_.size();
  staged_.push_back(moved);
  return moved.free_event.ptr;
}

void ReallocPlacement::Resolve(uint64_t first_ticket) {
  auto it = move_at_.find(first_ticket);
  if (it == move_at_.end()) return;
  Item& item = staged_[it->second - staged_popped_];
  item.resolved = true;
  auto moves = move_of_new_block_.find(item.event.ptr);
  if (moves != move_of_new_block_.end()) {
    std::vector<uint64_t>& tickets = moves->second;
    tickets.erase(std::remove(tickets.begin(), tickets.end(), first_ticket),
                  tickets.end());
    if (tickets.empty()) move_of_new_block_.erase(moves);
  }
  move_at_.erase(it);
  --unresolved_moves_;
  EmitReady(false);
}

void ReallocPlacement::Finish() { EmitReady(true); }

void ReallocPlacement::EmitReady(bool everything) {
  while (!staged_.empty()) {
    Item& item = staged_.front();
    switch (item.type) {
      case Item::Type::kMove:
        if (!item.resolved && !everything) return;
        output_->EmitEvent(item.event);
        output_->EmitEvent(item.free_event);
        if (!item.resolved) --unresolved_moves_;
        break;
      case Item::Type::kMarker:
        output_->EmitMarker();
        break;
      case Item::Type::kEvent:
        output_->EmitEvent(item.event);
        break;
      case Item::Type::kDone:
        break;
    }
    staged_.pop_front();
    ++staged_popped_;
  }
  if (everything) {
    move_at_.clear();
    move_of_new_block_.clear();
  }
}

}  // namespace record_internal
}  // namespace slabtrace
