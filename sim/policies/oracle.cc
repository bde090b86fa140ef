// oracle: clairvoyant placement, the bound for any policy that does not move
// objects. A first streaming pass (DeathIndex) learns when every object is
// freed; the placement pass then puts objects with close death times in the
// same slabs.
//
// "Close" is relative to now: an object dying d events from now falls in
// bucket (level = floor(log2 d), death >> level), so objects dying soon are
// grouped finely and far-future deaths coarsely. Each (class, bucket) has
// one open slab that takes objects until it is full; objects never freed
// share their own slabs.

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "sim/internal/death_index.h"
#include "sim/policy_registry.h"

namespace slabtrace {
namespace {

using sim_internal::DeathIndex;

class OraclePolicy : public PlacementPolicy {
 public:
  OraclePolicy(int num_classes, DeathIndex deaths)
      : deaths_(std::move(deaths)), key_of_(num_classes), open_(num_classes) {}

  SlabChoice Place(const ObjectEvent& event, const SlabTable& slabs) override {
    const Key key = BucketOf(slabs.size_class(), DeathOf(event), event.seq);
    SlabChoice choice;
    const uint32_t open = open_.Find(key);
    if (open != kNone && !slabs.full(open)) {
      choice.slab = open;
    } else {
      pending_key_ = key;
    }
    return choice;
  }
  uint64_t LargeAddress(const ObjectEvent& event) override {
    DeathOf(event);  // keeps the allocation count in step.
    return 0;
  }
  void OnSlabCreated(const SlabTable& slabs, uint32_t slab) override {
    std::vector<Key>& key_of = key_of_[slabs.size_class()];
    if (key_of.size() <= slab) key_of.resize(slab + 1);
    key_of[slab] = pending_key_;
    open_.Set(pending_key_, slab);
  }
  void OnSlabReleased(const SlabTable& slabs, uint32_t slab) override {
    open_.EraseIf(key_of_[slabs.size_class()][slab], slab);
  }

 private:
  // (class, level, death >> level); level 64 = never freed.
  struct Key {
    uint32_t size_class = 0;
    uint32_t level = 0;
    uint64_t bucket = 0;
    bool operator==(const Key& other) const {
      return size_class == other.size_class && level == other.level &&
             bucket == other.bucket;
    }
  };
  // One multiply-xorshift over the packed key: absl's generic tuple hash
  // was a visible share of the oracle's time (one lookup per allocation).
  struct KeyHash {
    size_t operator()(const Key& key) const {
      uint64_t x =
          key.bucket ^ (uint64_t{key.size_class} << 40 |
                        uint64_t{key.level} << 32 | uint64_t{key.level} << 56);
      x ^= x >> 29;
      x *= 0xBF58476D1CE4E5B9ull;
      x ^= x >> 32;
      x *= 0x94D049BB133111EBull;
      x ^= x >> 31;
      return static_cast<size_t>(x);
    }
  };

  uint64_t DeathOf(const ObjectEvent& event) {
    if (event.kind != ObjectEvent::Kind::kAlloc) {
      return deaths_.DeathOfResized(event.object_id);
    }
    if (event.seq != last_alloc_seq_ || ordinal_ == 0) {
      last_alloc_seq_ = event.seq;
      ++ordinal_;
    }
    return deaths_.DeathOfAllocation(ordinal_ - 1, event.seq);
  }
  static Key BucketOf(uint32_t size_class, uint64_t death, uint64_t now) {
    if (death == DeathIndex::kNever) return Key{size_class, 64, 0};
    const uint64_t distance = death > now ? death - now : 1;
    const uint32_t level = 63 - __builtin_clzll(distance);
    return Key{size_class, level, death >> level};
  }

  static constexpr uint32_t kNone = SlabChoice::kNewSlab;

  // Key -> the open slab of that bucket, as a map would (Set overwrites,
  // EraseIf erases only if the key still names that slab). Only two
  // buckets per (class, level) can take objects at any time (deaths in
  // [now + 2^level, now + 2^(level+1))), so each (class, level) has a few
  // direct-mapped entries by bucket; an entry displaced by a newer bucket
  // goes to a hash map until its slab is released. Every key is in one
  // place at most. The lookup per allocation then costs no hashing.
  class OpenSlabs {
   public:
    explicit OpenSlabs(int num_classes) : direct_(num_classes) {}

    uint32_t Find(const Key& key) {
      const Entry& entry = EntryOf(key);
      if (entry.used && entry.bucket == key.bucket) return entry.slab;
      if (overflow_.empty()) return kNone;
      auto it = overflow_.find(key);
      return it == overflow_.end() ? kNone : it->second;
    }
    void Set(const Key& key, uint32_t slab) {
      Entry& entry = EntryOf(key);
      if (entry.used && entry.bucket == key.bucket) {
        entry.slab = slab;
        return;
      }
      if (!overflow_.empty()) overflow_.erase(key);
      if (entry.used) {
        overflow_[Key{key.size_class, key.level, entry.bucket}] = entry.slab;
      }
      entry = Entry{key.bucket, slab, true};
    }
    void EraseIf(const Key& key, uint32_t slab) {
      Entry& entry = EntryOf(key);
      if (entry.used && entry.bucket == key.bucket) {
        if (entry.slab == slab) entry.used = false;
        return;
      }
      if (overflow_.empty()) return;
      auto it = overflow_.find(key);
      if (it != overflow_.end() && it->second == slab) overflow_.erase(it);
    }

   private:
    static constexpr uint32_t kLevels = 65;
    static constexpr uint32_t kWays = 4;
    struct Entry {
      uint64_t bucket = 0;
      uint32_t slab = 0;
      bool used = false;
    };
    Entry& EntryOf(const Key& key) {
      std::vector<Entry>& entries = direct_[key.size_class];
      if (entries.empty()) entries.resize(kLevels * kWays);
      return entries[key.level * kWays + (key.bucket & (kWays - 1))];
    }

    std::vector<std::vector<Entry>> direct_;  // [class][level][way].
    absl::flat_hash_map<Key, uint32_t, KeyHash> overflow_;
  };

  DeathIndex deaths_;
  uint64_t ordinal_ = 0;
  uint64_t last_alloc_seq_ = 0;
  Key pending_key_;
  std::vector<std::vector<Key>> key_of_;  // [class][slab].
  OpenSlabs open_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<PlacementPolicy>> MakeOraclePolicy(
    const PolicyContext& context) {
  if (!context.open_stream) {
    return absl::FailedPreconditionError("oracle needs a stream to pre-scan");
  }
  absl::StatusOr<std::unique_ptr<ObjectStream>> stream = context.open_stream();
  if (!stream.ok()) return stream.status();
  absl::StatusOr<DeathIndex> deaths = DeathIndex::Build(**stream);
  if (!deaths.ok()) {
    return absl::Status(
        deaths.status().code(),
        absl::StrCat("oracle pre-pass: ", deaths.status().message()));
  }
  return std::make_unique<OraclePolicy>(context.geometry->num_classes(),
                                        *std::move(deaths));
}

}  // namespace slabtrace
