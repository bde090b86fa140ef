#include "sim/comparison_output.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/json_util.h"
#include "replay/report_format.h"

namespace slabtrace {
namespace {

std::string SweepName(const ComparisonSweep& sweep) {
  switch (sweep.kind()) {
    case ComparisonSweep::MARKER:
      return sweep.label().empty() ? "(marker)" : sweep.label();
    case ComparisonSweep::INTERVAL:
      return absl::StrCat("@", sweep.events());
    case ComparisonSweep::END:
      return "end";
    default:
      return "?";
  }
}

std::string KindName(ComparisonSweep::Kind kind) {
  switch (kind) {
    case ComparisonSweep::MARKER:
      return "marker";
    case ComparisonSweep::INTERVAL:
      return "interval";
    case ComparisonSweep::END:
      return "end";
    default:
      return "unspecified";
  }
}

std::string Percent(double fraction) {
  return absl::StrFormat("%.1f%%", fraction * 100);
}

// Labels are free text; quote them when they would break a CSV line.
std::string CsvField(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

std::string AlignRows(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      // First two columns (sweep, policy) left-aligned, numbers right.
      const std::string pad(width[i] - row[i].size(), ' ');
      if (i > 0) line += "  ";
      line += i < 2 ? row[i] + pad : pad + row[i];
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

void AppendFidelityTable(const FidelitySummary& fidelity, std::string* out) {
  absl::StrAppendFormat(
      out,
      "\nfidelity: jemalloc vs recorded pinned slabs per marker and class\n"
      "  max |relative difference| (classes with >= %d recorded slabs): %s\n"
      "  weighted |difference| / recorded: %s\n",
      fidelity.min_slabs(), Percent(fidelity.max_abs_relative_difference()),
      Percent(fidelity.weighted_abs_relative_difference()));
  std::vector<std::vector<std::string>> rows = {
      {"sweep", "class", "recorded", "jemalloc", "difference"}};
  for (const FidelityRow& row : fidelity.rows()) {
    rows.push_back(
        {row.label().empty() ? absl::StrCat("@", row.seq()) : row.label(),
         absl::StrCat(row.size_class()), absl::StrCat(row.recorded_slabs()),
         absl::StrCat(row.jemalloc_slabs()),
         Percent(row.relative_difference())});
  }
  absl::StrAppend(out, AlignRows(rows));
}

}  // namespace

std::string FormatTable(const Comparison& comparison) {
  std::vector<std::vector<std::string>> rows = {
      {"sweep", "policy", "DSR", "held", "pinned", "footprint", "peak",
       "stranded", "live", "live bytes", "vs recorded", "meshed"}};
  for (const ComparisonSweep& sweep : comparison.sweeps()) {
    const std::string name = SweepName(sweep);
    for (const PolicyRow& row : sweep.rows()) {
      rows.push_back(
          {name, row.policy(), Percent(row.dsr()),
           absl::StrCat(row.held_granules()), absl::StrCat(row.pinned_slabs()),
           HumanBytes(row.footprint_bytes()),
           HumanBytes(row.peak_footprint_bytes()),
           HumanBytes(row.stranded_bytes()), absl::StrCat(row.live_objects()),
           HumanBytes(row.live_bytes()),
           row.footprint_ratio() == 0
               ? "-"
               : absl::StrFormat("%.3fx", row.footprint_ratio()),
           row.meshed_slabs() == 0 && row.meshed_footprint_bytes() == 0
               ? "-"
               : absl::StrCat(row.meshed_slabs(), " / ",
                              HumanBytes(row.meshed_footprint_bytes()))});
    }
    rows.push_back({name, "(packing bound)", "", "",
                    absl::StrCat(sweep.packing_bound_slabs()),
                    HumanBytes(sweep.packing_bound_bytes())});
  }
  std::string out = AlignRows(rows);
  if (comparison.has_fidelity()) {
    AppendFidelityTable(comparison.fidelity(), &out);
  }
  return out;
}

std::string FormatCsv(const Comparison& comparison) {
  std::string out = absl::StrCat(kCsvColumns, "\n");
  for (const ComparisonSweep& sweep : comparison.sweeps()) {
    const std::string prefix = absl::StrCat(
        KindName(sweep.kind()), ",", sweep.seq(), ",", sweep.time_ns(), ",",
        CsvField(sweep.label()), ",", sweep.events());
    const std::string bound = absl::StrCat(sweep.packing_bound_slabs(), ",",
                                           sweep.packing_bound_bytes());
    for (const PolicyRow& r : sweep.rows()) {
      absl::StrAppendFormat(
          &out, "%s,%s,all,%.6f,%d,%d,%d,%d,%d,%d,%d,%d,%.6f,%d,%d,%d,%d,%s\n",
          prefix, r.policy(), r.dsr(), r.held_granules(), r.pinned_slabs(),
          r.pinned_granules(), r.footprint_bytes(), r.peak_footprint_bytes(),
          r.stranded_bytes(), r.live_objects(), r.live_bytes(),
          r.footprint_ratio(), r.cached_regions(), r.placement_conflicts(),
          r.meshed_slabs(), r.meshed_footprint_bytes(), bound);
      for (const ClassRow& c : r.classes()) {
        // Class rows fill the columns that have a per-class meaning.
        absl::StrAppendFormat(
            &out, "%s,%s,%d,%.6f,%d,%d,%d,%d,,,%d,%d,,,,,,%d,\n", prefix,
            r.policy(), c.size_class(), c.dsr(), c.held_granules(),
            c.nregs() > 0 ? c.pinned_granules() : 0, c.pinned_granules(),
            c.footprint_bytes(), c.live_objects(),
            c.live_objects() * c.region_size(),
            c.nregs() > 0 ? c.packing_bound_granules() : 0);
      }
    }
  }
  if (comparison.has_fidelity()) {
    absl::StrAppend(&out, "\n", kFidelityCsvColumns, "\n");
    for (const FidelityRow& row : comparison.fidelity().rows()) {
      absl::StrAppendFormat(&out, "%d,%s,%d,%d,%d,%.6f\n", row.seq(),
                            CsvField(row.label()), row.size_class(),
                            row.recorded_slabs(), row.jemalloc_slabs(),
                            row.relative_difference());
    }
  }
  return out;
}

absl::StatusOr<std::string> FormatJson(const Comparison& comparison) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  options.add_whitespace = true;
  std::string json;
  const auto status =
      google::protobuf::util::MessageToJsonString(comparison, &json, options);
  if (!status.ok()) {
    return absl::InternalError(
        absl::StrCat("JSON conversion: ", status.ToString()));
  }
  json += "\n";
  return json;
}

}  // namespace slabtrace
