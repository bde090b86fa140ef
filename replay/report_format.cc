#include "replay/report_format.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/util/json_util.h"

namespace slabtrace {
namespace {

// Columns padded to their widest cell; the first `left_columns` are
// left-aligned (labels), the rest right-aligned (numbers).
class TextTable {
 public:
  TextTable(std::vector<std::string> header, int left_columns)
      : left_columns_(left_columns) {
    rows_.push_back(std::move(header));
  }
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }

  std::string Render(const std::string& indent) const {
    std::vector<size_t> width;
    for (const auto& row : rows_) {
      if (width.size() < row.size()) width.resize(row.size(), 0);
      for (size_t i = 0; i < row.size(); ++i) {
        width[i] = std::max(width[i], row[i].size());
      }
    }
    std::string out;
    for (const auto& row : rows_) {
      std::string line = indent;
      for (size_t i = 0; i < row.size(); ++i) {
        if (i > 0) line += "  ";
        const std::string pad(width[i] - row[i].size(), ' ');
        line +=
            static_cast<int>(i) < left_columns_ ? row[i] + pad : pad + row[i];
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      absl::StrAppend(&out, line, "\n");
    }
    return out;
  }

 private:
  int left_columns_;
  std::vector<std::vector<std::string>> rows_;
};

std::string KindName(Sweep::Kind kind) {
  return absl::AsciiStrToLower(Sweep::Kind_Name(kind));
}

std::string InconsistencyName(Inconsistency::Kind kind) {
  std::string name = absl::AsciiStrToLower(Inconsistency::Kind_Name(kind));
  std::replace(name.begin(), name.end(), '_', ' ');
  return name;
}

std::string Seconds(uint64_t ns) {
  return absl::StrFormat("%.3f s", static_cast<double>(ns) / 1e9);
}

std::string SweepLabel(const Sweep& sweep) {
  return sweep.label().empty() ? "-" : sweep.label();
}

std::string Histogram(const Occupancy& o) {
  return absl::StrJoin(o.histogram(), " ");
}

std::vector<std::string> OccupancyCells(const Occupancy& o) {
  return {WithCommas(o.live_objects()),
          HumanBytes(static_cast<int64_t>(o.live_bytes())),
          WithCommas(o.pinned_slabs()),
          WithCommas(o.pinned_extents()),
          HumanBytes(static_cast<int64_t>(o.footprint_bytes())),
          HumanBytes(o.stranded_bytes()),
          HumanBytes(static_cast<int64_t>(o.packing_bound_bytes())),
          HumanDsr(o.dsr_since_sweep()),
          HumanDsr(o.dsr_since_marker())};
}

const std::vector<std::string>& OccupancyHeader() {
  static const auto* header = new std::vector<std::string>{
      "live objs",     "live bytes",      "slabs",
      "extents",       "footprint",       "stranded",
      "packing bound", "DSR since sweep", "DSR since marker"};
  return *header;
}

std::string TraceSection(const Report& report) {
  const TraceFacts& t = report.trace();
  return absl::StrFormat(
      "trace      %s\n"
      "allocator  %s %s, page %s, %d small + %d large size classes\n"
      "events     %s over %s, %s markers, %d sweeps\n",
      t.file(), t.allocator(), t.allocator_version(),
      HumanBytes(static_cast<int64_t>(t.page_size())), t.nbins(),
      t.num_classes() - t.nbins(), WithCommas(t.events()),
      Seconds(t.last_time_ns() - std::min(t.first_time_ns(), t.last_time_ns())),
      WithCommas(t.markers()), report.sweeps_size());
}

std::string SweepSection(const Report& report) {
  std::vector<std::string> header = {"label", "kind", "event", "time"};
  header.insert(header.end(), OccupancyHeader().begin(),
                OccupancyHeader().end());
  if (report.options().histogram()) header.push_back("histogram (tenths)");
  TextTable table(header, 2);
  for (const Sweep& sweep : report.sweeps()) {
    std::vector<std::string> row = {SweepLabel(sweep), KindName(sweep.kind()),
                                    WithCommas(sweep.event_index()),
                                    Seconds(sweep.time_ns())};
    for (std::string& cell : OccupancyCells(sweep.total())) {
      row.push_back(std::move(cell));
    }
    if (report.options().histogram()) row.push_back(Histogram(sweep.total()));
    table.AddRow(std::move(row));
  }
  return absl::StrCat("\nsweeps\n", table.Render("  "));
}

std::string ClassSection(const Report& report, const Sweep& sweep) {
  std::vector<std::string> header = {"class", "size", "nregs"};
  header.insert(header.end(), OccupancyHeader().begin(),
                OccupancyHeader().end());
  if (report.options().histogram()) header.push_back("histogram (tenths)");
  TextTable table(header, 0);
  for (const ClassOccupancy& c : sweep.classes()) {
    std::vector<std::string> row = {
        absl::StrCat(c.size_class()),
        HumanBytes(static_cast<int64_t>(c.class_size())),
        c.nregs() == 0 ? "large" : absl::StrCat(c.nregs())};
    for (std::string& cell : OccupancyCells(c.occupancy())) {
      row.push_back(std::move(cell));
    }
    if (report.options().histogram()) row.push_back(Histogram(c.occupancy()));
    table.AddRow(std::move(row));
  }
  return absl::StrFormat("\nby size class at '%s' (%s, event %s)\n%s",
                         SweepLabel(sweep), KindName(sweep.kind()),
                         WithCommas(sweep.event_index()), table.Render("  "));
}

std::string GroundTruthSection(const Sweep& sweep) {
  const GroundTruth& truth = sweep.ground_truth();
  TextTable table({"class", "size", "replay slabs", "curslabs", "diff",
                   "replay regions", "curregs", "diff", "bound", "within"},
                  0);
  for (const GroundTruthClass& c : truth.classes()) {
    table.AddRow(
        {absl::StrCat(c.size_class(), c.large() ? " (large)" : ""),
         HumanBytes(static_cast<int64_t>(c.class_size())),
         WithCommas(c.replay_slabs()), WithCommas(c.jemalloc_curslabs()),
         absl::StrFormat("%+d", c.slabs_diff()), WithCommas(c.replay_regions()),
         WithCommas(c.jemalloc_curregs()),
         absl::StrFormat("%+d", c.regions_diff()), WithCommas(c.bound()),
         c.within_bound() ? "yes" : "NO"});
  }
  const std::string verdict =
      truth.all_within_bound()
          ? "all classes within the thread-cache bound"
          : absl::StrFormat("%d classes OUTSIDE the thread-cache bound",
                            truth.classes_outside_bound());
  return absl::StrFormat(
      "\nground truth at '%s' (jemalloc stats, %d threads; diff = jemalloc - "
      "replay; bound = ncached_max x threads): %s\n%s",
      SweepLabel(sweep), truth.threads(), verdict, table.Render("  "));
}

std::string ValidationSection(const Report& report) {
  const Validation& v = report.validation();
  std::string out = absl::StrFormat(
      "\nvalidation\n"
      "  unknown frees %s, unknown resizes %s (pointers never allocated in "
      "the trace; skipped)\n"
      "  inconsistencies %s: alloc at live address %s, double free %s, no "
      "granule %s, class conflict %s, overfull slab %s, resize moved "
      "granule %s\n",
      WithCommas(v.unknown_frees()), WithCommas(v.unknown_resizes()),
      WithCommas(v.inconsistencies()), WithCommas(v.alloc_at_live_address()),
      WithCommas(v.double_frees()), WithCommas(v.no_granule()),
      WithCommas(v.granule_class_conflicts()), WithCommas(v.slab_overfull()),
      WithCommas(v.resize_moved_granule()));
  for (const Inconsistency& i : v.first()) {
    absl::StrAppendFormat(&out,
                          "    event %s (seq %d): %s, ptr 0x%x, class %d\n",
                          WithCommas(i.event_index()), i.seq(),
                          InconsistencyName(i.kind()), i.ptr(), i.size_class());
  }
  if (static_cast<uint64_t>(v.first_size()) < v.inconsistencies()) {
    absl::StrAppendFormat(&out, "    ... %s more not listed\n",
                          WithCommas(v.inconsistencies() - v.first_size()));
  }
  return out;
}

std::string TrailerSection(const Report& report) {
  const TrailerCheck& t = report.trailer();
  std::string out = absl::StrFormat(
      "\ntrailer    %s (trailer: %s events, %s markers; replay: %s events, %s "
      "markers)\n",
      t.agrees() ? "agrees" : "DISAGREES", WithCommas(t.trailer_events()),
      WithCommas(t.trailer_markers()), WithCommas(t.replayed_events()),
      WithCommas(t.replayed_markers()));
  for (const std::string& line : t.disagreements()) {
    absl::StrAppend(&out, "  ", line, "\n");
  }
  for (const std::string& line : t.reader_warnings()) {
    absl::StrAppend(&out, "  reader: ", line, "\n");
  }
  return out;
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string quoted = "\"";
  for (char c : s) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

std::string CsvDsr(const DsrWindow& w) {
  return w.defined() ? absl::StrFormat("%.6f", w.dsr()) : "n/a";
}

std::string CsvRow(const Report& report, int index, const Sweep& sweep,
                   const std::string& size_class, const std::string& class_size,
                   const Occupancy& o, const std::string& ground_truth) {
  std::vector<std::string> cells = {
      absl::StrCat(index),
      KindName(sweep.kind()),
      CsvField(sweep.label()),
      absl::StrCat(sweep.event_index()),
      absl::StrCat(sweep.seq()),
      absl::StrCat(sweep.time_ns()),
      size_class,
      class_size,
      absl::StrCat(o.live_objects()),
      absl::StrCat(o.live_bytes()),
      absl::StrCat(o.requested_bytes()),
      absl::StrCat(o.pinned_slabs()),
      absl::StrCat(o.pinned_extents()),
      absl::StrCat(o.footprint_bytes()),
      absl::StrCat(o.stranded_bytes()),
      absl::StrCat(o.packing_bound_bytes()),
      absl::StrCat(o.dsr_since_sweep().held()),
      absl::StrCat(o.dsr_since_sweep().drained()),
      CsvDsr(o.dsr_since_sweep()),
      absl::StrCat(o.dsr_since_marker().held()),
      absl::StrCat(o.dsr_since_marker().drained()),
      CsvDsr(o.dsr_since_marker()),
      ground_truth};
  if (report.options().histogram()) {
    for (int i = 0; i < 10; ++i) {
      cells.push_back(
          absl::StrCat(i < o.histogram_size() ? o.histogram(i) : 0));
    }
  }
  return absl::StrCat(absl::StrJoin(cells, ","), "\n");
}

}  // namespace

absl::StatusOr<ReportFormat> ParseReportFormat(absl::string_view name) {
  if (name == "table") return ReportFormat::kTable;
  if (name == "csv") return ReportFormat::kCsv;
  if (name == "json") return ReportFormat::kJson;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown format '", name, "' (want table, csv or json)"));
}

std::string HumanBytes(int64_t bytes) {
  const char* sign = bytes < 0 ? "-" : "";
  const uint64_t magnitude = bytes < 0 ? -static_cast<uint64_t>(bytes) : bytes;
  if (magnitude < 1024) return absl::StrFormat("%s%d B", sign, magnitude);
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  double value = static_cast<double>(magnitude) / 1024;
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  return absl::StrFormat("%s%.1f %s", sign, value, kUnits[unit]);
}

std::string WithCommas(uint64_t n) {
  std::string digits = absl::StrCat(n);
  std::string out;
  const int len = static_cast<int>(digits.size());
  for (int i = 0; i < len; ++i) {
    if (i > 0 && (len - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string HumanDsr(const DsrWindow& w) {
  const std::string counts =
      absl::StrFormat("(%s/%s)", WithCommas(w.drained()), WithCommas(w.held()));
  if (!w.defined()) return absl::StrCat("n/a ", counts);
  return absl::StrFormat("%.1f%% %s", 100.0 * w.dsr(), counts);
}

std::string FormatTable(const Report& report) {
  std::string out = TraceSection(report);
  absl::StrAppend(&out, SweepSection(report));
  for (const Sweep& sweep : report.sweeps()) {
    if (report.options().by_class()) {
      absl::StrAppend(&out, ClassSection(report, sweep));
    }
    if (sweep.ground_truth().available()) {
      absl::StrAppend(&out, GroundTruthSection(sweep));
    }
  }
  absl::StrAppend(&out, ValidationSection(report), TrailerSection(report));
  return out;
}

std::string FormatCsv(const Report& report) {
  std::string out =
      "sweep,kind,label,event_index,seq,time_ns,size_class,class_size,"
      "live_objects,live_bytes,requested_bytes,pinned_slabs,pinned_extents,"
      "footprint_bytes,stranded_bytes,packing_bound_bytes,"
      "dsr_since_sweep_held,dsr_since_sweep_drained,dsr_since_sweep,"
      "dsr_since_marker_held,dsr_since_marker_drained,dsr_since_marker,"
      "ground_truth";
  if (report.options().histogram()) {
    for (int i = 0; i < 10; ++i) absl::StrAppend(&out, ",hist_", i);
  }
  out += "\n";
  for (int i = 0; i < report.sweeps_size(); ++i) {
    const Sweep& sweep = report.sweeps(i);
    const GroundTruth& truth = sweep.ground_truth();
    const std::string verdict = !truth.available()         ? ""
                                : truth.all_within_bound() ? "within"
                                                           : "outside";
    absl::StrAppend(
        &out, CsvRow(report, i, sweep, "all", "", sweep.total(), verdict));
    for (const ClassOccupancy& c : sweep.classes()) {
      absl::StrAppend(&out,
                      CsvRow(report, i, sweep, absl::StrCat(c.size_class()),
                             absl::StrCat(c.class_size()), c.occupancy(), ""));
    }
  }
  return out;
}

absl::StatusOr<std::string> FormatJson(const Report& report) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string out;
  const auto status =
      google::protobuf::util::MessageToJsonString(report, &out, options);
  if (!status.ok()) {
    return absl::InternalError(
        absl::StrCat("cannot print the report as JSON: ", status.ToString()));
  }
  if (out.empty() || out.back() != '\n') out += "\n";
  return out;
}

absl::StatusOr<std::string> FormatReport(const Report& report,
                                         ReportFormat format) {
  switch (format) {
    case ReportFormat::kTable:
      return FormatTable(report);
    case ReportFormat::kCsv:
      return FormatCsv(report);
    case ReportFormat::kJson:
      return FormatJson(report);
  }
  return absl::InvalidArgumentError("unknown report format");
}

}  // namespace slabtrace
