#include "tools/redis/scenarios.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace slabtrace {
namespace {

// SplitMix64: tiny, fast, and the same sequence on every platform and
// library version (std:: distributions are not).
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t Below(uint64_t n) { return Next() % n; }
  double Fraction() { return (Next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t state_;
};

// Queues commands and sends them `batch` at a time, checking every reply.
class Pipeline {
 public:
  Pipeline(RespClient& client, int64_t batch)
      : client_(client), batch_(batch) {}
  absl::Status Add(std::initializer_list<absl::string_view> argv) {
    client_.Append(argv);
    if (client_.pending() >= batch_) return client_.ReadAndCheckReplies();
    return absl::OkStatus();
  }
  absl::Status Finish() { return client_.ReadAndCheckReplies(); }

 private:
  RespClient& client_;
  int64_t batch_;
};

absl::Status WriteKeys(RespClient& client, const ScenarioParams& params,
                       const std::function<int64_t(int64_t)>& size_of) {
  Pipeline pipeline(client, params.batch);
  for (int64_t i = 0; i < params.keys; ++i) {
    const std::string key = ScenarioKey(i);
    const std::string value = ScenarioValue(i, size_of(i));
    if (absl::Status s = pipeline.Add({"SET", key, value}); !s.ok()) return s;
  }
  return pipeline.Finish();
}

absl::Status WriteFixedSizeKeys(RespClient& client,
                                const ScenarioParams& params) {
  return WriteKeys(client, params, [&](int64_t) { return params.value_size; });
}

// Checks the key count Redis reports, so that a scenario which silently
// did less than it claims fails.
absl::Status ExpectDbSize(RespClient& client, int64_t expected,
                          absl::string_view phase) {
  absl::StatusOr<int64_t> size = client.CallInteger({"DBSIZE"});
  if (!size.ok()) return size.status();
  if (*size != expected) {
    return absl::InternalError(absl::StrCat("after ", phase, ": DBSIZE is ",
                                            *size, ", expected ", expected));
  }
  return absl::OkStatus();
}

class ScatterDelete : public Scenario {
 public:
  explicit ScatterDelete(ScenarioParams params) : params_(std::move(params)) {}
  absl::Status Run(RespClient& client, const MarkFunction& mark) override {
    if (absl::Status s = WriteFixedSizeKeys(client, params_); !s.ok()) return s;
    if (absl::Status s = ExpectDbSize(client, params_.keys, "write"); !s.ok())
      return s;
    if (absl::Status s = mark("written"); !s.ok()) return s;
    Pipeline pipeline(client, params_.batch);
    for (int64_t i = 1; i < params_.keys; i += 2) {
      if (absl::Status s = pipeline.Add({"DEL", ScenarioKey(i)}); !s.ok())
        return s;
    }
    if (absl::Status s = pipeline.Finish(); !s.ok()) return s;
    if (absl::Status s = ExpectDbSize(client, (params_.keys + 1) / 2, "delete");
        !s.ok())
      return s;
    return mark("deleted");
  }
  static std::vector<std::string> Labels(const ScenarioParams&) {
    return {"written", "deleted"};
  }

 private:
  ScenarioParams params_;
};

class FlushAll : public Scenario {
 public:
  explicit FlushAll(ScenarioParams params) : params_(std::move(params)) {}
  absl::Status Run(RespClient& client, const MarkFunction& mark) override {
    if (absl::Status s = WriteFixedSizeKeys(client, params_); !s.ok()) return s;
    if (absl::Status s = ExpectDbSize(client, params_.keys, "write"); !s.ok())
      return s;
    if (absl::Status s = mark("written"); !s.ok()) return s;
    // SYNC: the memory is freed before the reply, not by a lazy thread.
    if (absl::StatusOr<RespReply> r = client.Call({"FLUSHALL", "SYNC"});
        !r.ok())
      return r.status();
    if (absl::Status s = ExpectDbSize(client, 0, "flushall"); !s.ok()) return s;
    return mark("flushed");
  }
  static std::vector<std::string> Labels(const ScenarioParams&) {
    return {"written", "flushed"};
  }

 private:
  ScenarioParams params_;
};

// Keys get TTLs in `waves` steps of wave_ms; key i is in wave i % waves, so
// each wave is scattered over all the slabs. Active expiry is off, so a key
// dies exactly when the scenario touches it after its TTL: every wave's
// frees happen inside its own phase, whatever the machine's speed.
class Expire : public Scenario {
 public:
  explicit Expire(ScenarioParams params) : params_(std::move(params)) {}
  absl::Status Run(RespClient& client, const MarkFunction& mark) override {
    if (absl::StatusOr<RespReply> r =
            client.Call({"DEBUG", "SET-ACTIVE-EXPIRE", "0"});
        !r.ok())
      return r.status();
    Pipeline pipeline(client, params_.batch);
    for (int64_t i = 0; i < params_.keys; ++i) {
      const std::string ttl = absl::StrCat(TtlMs(i));
      if (absl::Status s =
              pipeline.Add({"SET", ScenarioKey(i),
                            ScenarioValue(i, params_.value_size), "PX", ttl});
          !s.ok())
        return s;
    }
    if (absl::Status s = pipeline.Finish(); !s.ok()) return s;
    const absl::Time written = absl::Now();
    if (absl::Status s = mark("written"); !s.ok()) return s;
    for (int64_t wave = 0; wave < params_.waves; ++wave) {
      absl::SleepFor(written + absl::Milliseconds(TtlMs(wave) + 1) -
                     absl::Now());
      if (absl::Status s = ExpireWave(client, wave); !s.ok()) return s;
      if (absl::Status s = mark(absl::StrCat("expired-", wave + 1)); !s.ok())
        return s;
    }
    return client.Call({"DEBUG", "SET-ACTIVE-EXPIRE", "1"}).status();
  }
  static std::vector<std::string> Labels(const ScenarioParams& params) {
    std::vector<std::string> labels = {"written"};
    for (int64_t w = 1; w <= params.waves; ++w) {
      labels.push_back(absl::StrCat("expired-", w));
    }
    return labels;
  }

 private:
  int64_t TtlMs(int64_t i) const {
    return (i % params_.waves + 1) * params_.wave_ms;
  }
  absl::Status ExpireWave(RespClient& client, int64_t wave) {
    int64_t survivors = 0;
    for (int64_t i = wave; i < params_.keys;) {
      for (int64_t n = 0; n < params_.batch && i < params_.keys;
           ++n, i += params_.waves) {
        client.Append({"EXISTS", ScenarioKey(i)});
      }
      absl::StatusOr<std::vector<RespReply>> replies = client.ReadReplies();
      if (!replies.ok()) return replies.status();
      for (const RespReply& reply : *replies) survivors += reply.integer;
    }
    if (survivors != 0) {
      return absl::InternalError(absl::StrCat("expire wave ", wave + 1, ": ",
                                              survivors,
                                              " keys outlived their TTL"));
    }
    return absl::OkStatus();
  }

  ScenarioParams params_;
};

class MixedSizes : public Scenario {
 public:
  explicit MixedSizes(ScenarioParams params) : params_(std::move(params)) {}
  absl::Status Run(RespClient& client, const MarkFunction& mark) override {
    Random random(params_.seed);
    absl::Status s = WriteKeys(client, params_, [&](int64_t) {
      return params_.sizes[random.Below(params_.sizes.size())];
    });
    if (!s.ok()) return s;
    if (s = mark("written"); !s.ok()) return s;
    Pipeline pipeline(client, params_.batch);
    int64_t deleted = 0;
    for (int64_t i = 0; i < params_.keys; ++i) {
      if (random.Fraction() >= params_.delete_fraction) continue;
      ++deleted;
      if (s = pipeline.Add({"DEL", ScenarioKey(i)}); !s.ok()) return s;
    }
    if (s = pipeline.Finish(); !s.ok()) return s;
    if (s = ExpectDbSize(client, params_.keys - deleted, "delete"); !s.ok())
      return s;
    return mark("deleted");
  }
  static std::vector<std::string> Labels(const ScenarioParams&) {
    return {"written", "deleted"};
  }

 private:
  ScenarioParams params_;
};

// Steady random SET (60 %) and DEL (40 %) over a key space that grows
// linearly from keys/4 to keys; values vary from half to 1.5 x value_size.
class Churn : public Scenario {
 public:
  explicit Churn(ScenarioParams params) : params_(std::move(params)) {
    if (params_.ops == 0) params_.ops = 4 * params_.keys;
  }
  absl::Status Run(RespClient& client, const MarkFunction& mark) override {
    Random random(params_.seed);
    Pipeline pipeline(client, params_.batch);
    const int64_t first_space = std::max<int64_t>(1, params_.keys / 4);
    int64_t op = 0;
    for (int64_t phase = 1; phase <= params_.phases; ++phase) {
      const int64_t phase_end = params_.ops * phase / params_.phases;
      for (; op < phase_end; ++op) {
        const int64_t space =
            first_space + (params_.keys - first_space) * op / params_.ops;
        const int64_t key = random.Below(space);
        absl::Status s;
        if (random.Below(10) < 6) {
          const int64_t size =
              params_.value_size / 2 + random.Below(params_.value_size + 1);
          s = pipeline.Add({"SET", ScenarioKey(key), ScenarioValue(key, size)});
        } else {
          s = pipeline.Add({"DEL", ScenarioKey(key)});
        }
        if (!s.ok()) return s;
      }
      if (absl::Status s = pipeline.Finish(); !s.ok()) return s;
      if (absl::Status s = mark(absl::StrCat("phase-", phase)); !s.ok())
        return s;
    }
    return absl::OkStatus();
  }
  static std::vector<std::string> Labels(const ScenarioParams& params) {
    std::vector<std::string> labels;
    for (int64_t p = 1; p <= params.phases; ++p) {
      labels.push_back(absl::StrCat("phase-", p));
    }
    return labels;
  }

 private:
  ScenarioParams params_;
};

// `keys` fields spread round-robin over `hashes` hash keys, then every
// other field deleted with HDEL.
class Hashes : public Scenario {
 public:
  explicit Hashes(ScenarioParams params) : params_(std::move(params)) {}
  absl::Status Run(RespClient& client, const MarkFunction& mark) override {
    Pipeline pipeline(client, params_.batch);
    for (int64_t i = 0; i < params_.keys; ++i) {
      absl::Status s = pipeline.Add({"HSET", HashKey(i), ScenarioKey(i),
                                     ScenarioValue(i, params_.value_size)});
      if (!s.ok()) return s;
    }
    if (absl::Status s = pipeline.Finish(); !s.ok()) return s;
    if (absl::Status s = ExpectFields(client, params_.keys, "write"); !s.ok())
      return s;
    if (absl::Status s = mark("written"); !s.ok()) return s;
    for (int64_t i = 1; i < params_.keys; i += 2) {
      if (absl::Status s = pipeline.Add({"HDEL", HashKey(i), ScenarioKey(i)});
          !s.ok())
        return s;
    }
    if (absl::Status s = pipeline.Finish(); !s.ok()) return s;
    if (absl::Status s = ExpectFields(client, (params_.keys + 1) / 2, "delete");
        !s.ok())
      return s;
    return mark("deleted");
  }
  static std::vector<std::string> Labels(const ScenarioParams&) {
    return {"written", "deleted"};
  }

 private:
  std::string HashKey(int64_t i) const {
    return absl::StrCat("hash:", i % params_.hashes);
  }
  absl::Status ExpectFields(RespClient& client, int64_t expected,
                            absl::string_view phase) {
    int64_t fields = 0;
    for (int64_t h = 0; h < params_.hashes; ++h) {
      absl::StatusOr<int64_t> n =
          client.CallInteger({"HLEN", absl::StrCat("hash:", h)});
      if (!n.ok()) return n.status();
      fields += *n;
    }
    if (fields != expected) {
      return absl::InternalError(absl::StrCat(
          "after ", phase, ": ", fields, " hash fields, expected ", expected));
    }
    return absl::OkStatus();
  }

  ScenarioParams params_;
};

template <typename T>
std::unique_ptr<Scenario> Make(const ScenarioParams& params) {
  return std::make_unique<T>(params);
}

absl::Status Validate(const ScenarioParams& p) {
  auto positive = [](int64_t v, const char* name) -> absl::Status {
    if (v >= 1) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, " must be at least 1, got ", v));
  };
  for (auto [value, name] : {std::pair<int64_t, const char*>{p.keys, "keys"},
                             {p.value_size, "value-size"},
                             {p.batch, "batch"},
                             {p.waves, "waves"},
                             {p.phases, "phases"},
                             {p.hashes, "hashes"}}) {
    if (absl::Status s = positive(value, name); !s.ok()) return s;
  }
  if (p.value_size > (int64_t{1} << 29)) {
    return absl::InvalidArgumentError("--value-size must be at most 512 MiB");
  }
  if (p.wave_ms < 0 || p.ops < 0) {
    return absl::InvalidArgumentError("--wave-ms and --ops must be >= 0");
  }
  if (p.delete_fraction < 0 || p.delete_fraction > 1) {
    return absl::InvalidArgumentError(
        "--delete-fraction must be between 0 and 1");
  }
  if (p.sizes.empty()) return absl::InvalidArgumentError("--sizes is empty");
  for (int64_t size : p.sizes) {
    if (absl::Status s = positive(size, "sizes"); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace

const std::vector<ScenarioInfo>& AllScenarios() {
  static const auto* scenarios = new std::vector<ScenarioInfo>{
      {"scatter-delete",
       "write --keys keys of --value-size bytes, delete every other (odd) key",
       ScatterDelete::Labels, Make<ScatterDelete>},
      {"flushall", "write --keys keys of --value-size bytes, then FLUSHALL",
       FlushAll::Labels, Make<FlushAll>},
      {"expire", "keys with TTLs that expire in --waves waves, --wave-ms apart",
       Expire::Labels, Make<Expire>},
      {"mixed-sizes",
       "values of --sizes bytes at random, then --delete-fraction deleted at "
       "random",
       MixedSizes::Labels, Make<MixedSizes>},
      {"churn",
       "--ops random SET/DEL over a key space growing to --keys, in --phases",
       Churn::Labels, Make<Churn>},
      {"hashes",
       "--keys fields over --hashes large hashes (HSET), every other HDEL'd",
       Hashes::Labels, Make<Hashes>},
  };
  return *scenarios;
}

absl::StatusOr<std::unique_ptr<Scenario>> CreateScenario(
    absl::string_view name, const ScenarioParams& params) {
  if (absl::Status s = Validate(params); !s.ok()) return s;
  std::vector<std::string> names;
  for (const ScenarioInfo& info : AllScenarios()) {
    if (name == info.name) return info.create(params);
    names.push_back(info.name);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown scenario '", name,
                   "' (one of: ", absl::StrJoin(names, ", "), ")"));
}

std::string ScenarioKey(int64_t i) { return absl::StrFormat("key:%08d", i); }

std::string ScenarioValue(int64_t i, int64_t size) {
  // Printable and varying with i; the content does not matter to the
  // allocator, only the length does.
  return std::string(static_cast<size_t>(size),
                     static_cast<char>('a' + i % 26));
}

}  // namespace slabtrace
