#include "sim/compare.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

namespace slabtrace {
namespace {

int IndexOf(const std::vector<std::string>& names, absl::string_view name) {
  auto it = std::find(names.begin(), names.end(), name);
  return it == names.end() ? -1 : static_cast<int>(it - names.begin());
}

std::vector<absl::StatusOr<PolicyRun>> RunAll(
    const std::vector<std::string>& policies, const StreamFactory& open_stream,
    const SimOptions& options, int threads) {
  const size_t n = policies.size();
  std::vector<absl::StatusOr<PolicyRun>> runs(
      n, absl::UnknownError("policy did not run"));
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < n; i = next++) {
      runs[i] = SimulatePolicy(policies[i], open_stream, options);
    }
  };
  const size_t workers =
      threads <= 0 ? n : std::min<size_t>(n, static_cast<size_t>(threads));
  std::vector<std::thread> pool;
  for (size_t t = 1; t < workers; ++t) pool.emplace_back(work);
  work();
  for (std::thread& thread : pool) thread.join();
  return runs;
}

absl::Status CheckSameSweep(const ComparisonSweep& a, const ComparisonSweep& b,
                            absl::string_view policy) {
  if (a.kind() != b.kind() || a.seq() != b.seq() || a.events() != b.events()) {
    return absl::InternalError(absl::StrCat("policy ", policy, " swept at seq ",
                                            b.seq(), ", expected ", a.seq()));
  }
  const PolicyRow& ra = a.rows(0);
  const PolicyRow& rb = b.rows(0);
  if (ra.live_objects() != rb.live_objects() ||
      ra.live_bytes() != rb.live_bytes()) {
    return absl::InternalError(absl::StrCat(
        "conservation violated at seq ", b.seq(), ": ", policy, " has ",
        rb.live_objects(), " live objects / ", rb.live_bytes(), " bytes, ",
        ra.policy(), " has ", ra.live_objects(), " / ", ra.live_bytes()));
  }
  return absl::OkStatus();
}

absl::StatusOr<Comparison> Merge(const std::vector<std::string>& policies,
                                 std::vector<absl::StatusOr<PolicyRun>> runs) {
  for (size_t i = 0; i < runs.size(); ++i) {
    if (!runs[i].ok()) {
      return absl::Status(
          runs[i].status().code(),
          absl::StrCat(policies[i], ": ", runs[i].status().message()));
    }
  }
  Comparison comparison;
  for (const std::string& p : policies) comparison.add_policies(p);
  const PolicyRun& first = *runs[0];
  comparison.set_events(first.events);
  comparison.set_unknown_frees(first.unknown_frees);
  const int recorded = IndexOf(policies, "recorded");
  for (size_t k = 0; k < first.sweeps.size(); ++k) {
    ComparisonSweep* sweep = comparison.add_sweeps();
    *sweep = first.sweeps[k];
    sweep->clear_rows();
    for (size_t i = 0; i < runs.size(); ++i) {
      if (runs[i]->sweeps.size() != first.sweeps.size()) {
        return absl::InternalError(absl::StrCat(
            "policy ", policies[i], " produced ", runs[i]->sweeps.size(),
            " sweeps, expected ", first.sweeps.size()));
      }
      const ComparisonSweep& own = runs[i]->sweeps[k];
      if (absl::Status s = CheckSameSweep(first.sweeps[k], own, policies[i]);
          !s.ok()) {
        return s;
      }
      *sweep->add_rows() = own.rows(0);
    }
    if (recorded < 0) continue;
    const double base = sweep->rows(recorded).footprint_bytes();
    for (PolicyRow& row : *sweep->mutable_rows()) {
      row.set_footprint_ratio(base == 0 ? 0.0 : row.footprint_bytes() / base);
    }
  }
  return comparison;
}

}  // namespace

absl::Status ValidatePolicies(const std::vector<std::string>& policies) {
  absl::flat_hash_set<std::string> seen;
  for (const std::string& name : policies) {
    if (IndexOf(PolicyNames(), name) < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown policy '", name, "' (valid: ", PolicyNameList(), ")"));
    }
    if (!seen.insert(name).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("policy '", name, "' given twice"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Comparison> Compare(const StreamFactory& open_stream,
                                   const CompareOptions& options) {
  const std::vector<std::string> policies =
      options.policies.empty() ? PolicyNames() : options.policies;
  if (absl::Status s = ValidatePolicies(policies); !s.ok()) return s;
  SimOptions sim = options.sim;
  if (options.fidelity) {
    if (IndexOf(policies, "recorded") < 0 ||
        IndexOf(policies, "jemalloc") < 0) {
      return absl::InvalidArgumentError(
          "--fidelity needs the recorded and jemalloc policies");
    }
    sim.by_class = true;
  }
  absl::StatusOr<Comparison> comparison =
      Merge(policies, RunAll(policies, open_stream, sim, options.threads));
  if (!comparison.ok()) return comparison;
  comparison->set_trace(options.trace_name);
  SimulationOptions* out = comparison->mutable_options();
  out->set_slab_scale_num(sim.geometry.scale_num);
  out->set_slab_scale_den(sim.geometry.scale_den);
  out->set_page_size(sim.geometry.page_size);
  out->set_tcache(sim.tcache);
  out->set_epoch_ms(sim.epoch_ms);
  out->set_every_events(sim.every_events);
  out->set_every_ms(sim.every_ms);
  out->set_by_class(sim.by_class);
  if (options.fidelity) {
    absl::StatusOr<FidelitySummary> fidelity =
        ComputeFidelity(*comparison, options.fidelity_min_slabs);
    if (!fidelity.ok()) return fidelity.status();
    *comparison->mutable_fidelity() = *std::move(fidelity);
  }
  return comparison;
}

absl::StatusOr<FidelitySummary> ComputeFidelity(const Comparison& comparison,
                                                uint64_t min_slabs) {
  std::vector<std::string> policies(comparison.policies().begin(),
                                    comparison.policies().end());
  const int recorded = IndexOf(policies, "recorded");
  const int jemalloc = IndexOf(policies, "jemalloc");
  if (recorded < 0 || jemalloc < 0) {
    return absl::InvalidArgumentError(
        "fidelity needs the recorded and jemalloc policies");
  }
  FidelitySummary summary;
  summary.set_min_slabs(min_slabs);
  uint64_t total_recorded = 0, total_difference = 0;
  double max_abs = 0;
  for (const ComparisonSweep& sweep : comparison.sweeps()) {
    if (sweep.kind() == ComparisonSweep::INTERVAL) continue;
    // class -> (recorded, jemalloc) pinned slabs; std::map keeps the
    // output in class order.
    std::map<uint32_t, std::pair<uint64_t, uint64_t>> slabs;
    for (const ClassRow& row : sweep.rows(recorded).classes()) {
      if (row.nregs() > 0)
        slabs[row.size_class()].first = row.pinned_granules();
    }
    for (const ClassRow& row : sweep.rows(jemalloc).classes()) {
      if (row.nregs() > 0) {
        slabs[row.size_class()].second = row.pinned_granules();
      }
    }
    for (const auto& [size_class, counts] : slabs) {
      const auto [rec, jem] = counts;
      if (rec == 0 && jem == 0) continue;
      FidelityRow* row = summary.add_rows();
      row->set_seq(sweep.seq());
      row->set_label(sweep.label());
      row->set_size_class(size_class);
      row->set_recorded_slabs(rec);
      row->set_jemalloc_slabs(jem);
      const double relative =
          rec == 0 ? 1.0
                   : (static_cast<double>(jem) - static_cast<double>(rec)) /
                         static_cast<double>(rec);
      row->set_relative_difference(relative);
      if (rec >= min_slabs) max_abs = std::max(max_abs, std::fabs(relative));
      total_recorded += rec;
      total_difference += jem > rec ? jem - rec : rec - jem;
    }
  }
  summary.set_max_abs_relative_difference(max_abs);
  summary.set_weighted_abs_relative_difference(
      total_recorded == 0 ? 0.0
                          : static_cast<double>(total_difference) /
                                static_cast<double>(total_recorded));
  return summary;
}

}  // namespace slabtrace
