#include "sim/policy_registry.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace slabtrace {

// Each factory is defined in its policy's file under sim/policies/.
absl::StatusOr<std::unique_ptr<PlacementPolicy>> MakeRecordedPolicy(
    const PolicyContext&);
absl::StatusOr<std::unique_ptr<PlacementPolicy>> MakeJemallocPolicy(
    const PolicyContext&);
absl::StatusOr<std::unique_ptr<PlacementPolicy>> MakeFirstFitPolicy(
    const PolicyContext&);
absl::StatusOr<std::unique_ptr<PlacementPolicy>> MakeBestFitPolicy(
    const PolicyContext&);
absl::StatusOr<std::unique_ptr<PlacementPolicy>> MakeWorstFitPolicy(
    const PolicyContext&);
absl::StatusOr<std::unique_ptr<PlacementPolicy>> MakeTemporalPolicy(
    const PolicyContext&);
absl::StatusOr<std::unique_ptr<PlacementPolicy>> MakeOraclePolicy(
    const PolicyContext&);
absl::StatusOr<std::unique_ptr<PlacementPolicy>> MakeCompactPolicy(
    const PolicyContext&);

namespace {

struct Registration {
  const char* name;
  PolicyFactory factory;
};

// One line per policy, in table order.
constexpr Registration kPolicies[] = {
    {"recorded", MakeRecordedPolicy},  {"jemalloc", MakeJemallocPolicy},
    {"first-fit", MakeFirstFitPolicy}, {"best-fit", MakeBestFitPolicy},
    {"worst-fit", MakeWorstFitPolicy}, {"temporal", MakeTemporalPolicy},
    {"oracle", MakeOraclePolicy},      {"compact", MakeCompactPolicy},
};

}  // namespace

const std::vector<std::string>& PolicyNames() {
  static const auto* names = [] {
    auto* names = new std::vector<std::string>();
    for (const Registration& r : kPolicies) names->push_back(r.name);
    return names;
  }();
  return *names;
}

std::string PolicyNameList() { return absl::StrJoin(PolicyNames(), ", "); }

absl::StatusOr<std::unique_ptr<PlacementPolicy>> MakePolicy(
    absl::string_view name, const PolicyContext& context) {
  for (const Registration& r : kPolicies) {
    if (name == r.name) return r.factory(context);
  }
  return absl::NotFoundError(absl::StrCat("unknown policy '", name,
                                          "' (valid: ", PolicyNameList(), ")"));
}

}  // namespace slabtrace
