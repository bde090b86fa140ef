#include "tools/check_command.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "proto/report.pb.h"
#include "proto/sim.pb.h"
#include "proto/trace_reader.h"
#include "replay/object_stream.h"
#include "replay/replayer.h"
#include "sim/compare.h"
#include "sim/policy_registry.h"
#include "tools/internal/command.h"
#include "tools/internal/command_line.h"

namespace slabtrace {
namespace {

enum class MetricKind { kRatio, kBytes, kCount };

struct MetricSpec {
  const char* name;
  MetricKind kind;
  bool from_replay;      // available without a policy
  bool from_comparison;  // available with a policy
  bool whole_trace;      // only @end
};

constexpr MetricSpec kMetrics[] = {
    {"dsr", MetricKind::kRatio, true, true, false},
    {"live_objects", MetricKind::kCount, true, true, false},
    {"live_bytes", MetricKind::kBytes, true, true, false},
    {"requested_bytes", MetricKind::kBytes, true, false, false},
    {"pinned_slabs", MetricKind::kCount, true, true, false},
    {"pinned_extents", MetricKind::kCount, true, false, false},
    {"pinned_granules", MetricKind::kCount, false, true, false},
    {"footprint", MetricKind::kBytes, true, true, false},
    {"stranded_bytes", MetricKind::kBytes, true, true, false},
    {"packing_bound", MetricKind::kBytes, true, false, false},
    {"peak_footprint", MetricKind::kBytes, false, true, false},
    {"footprint_ratio", MetricKind::kRatio, false, true, false},
    {"meshed_slabs", MetricKind::kCount, false, true, false},
    {"meshed_footprint", MetricKind::kBytes, false, true, false},
    {"classes_outside_bound", MetricKind::kCount, true, false, false},
    {"unknown_frees", MetricKind::kCount, true, false, true},
    {"inconsistencies", MetricKind::kCount, true, false, true},
    {"dropped_events", MetricKind::kCount, true, false, true},
};

const MetricSpec* FindMetric(absl::string_view name) {
  for (const MetricSpec& spec : kMetrics) {
    if (name == spec.name) return &spec;
  }
  return nullptr;
}

std::string MetricNames() {
  std::vector<std::string> names;
  for (const MetricSpec& spec : kMetrics) names.push_back(spec.name);
  return absl::StrJoin(names, ", ");
}

struct Unit {
  const char* suffix;
  double scale;
  MetricKind applies_to;
};
constexpr Unit kUnits[] = {
    {"%", 0.01, MetricKind::kRatio},
    {"B", 1, MetricKind::kBytes},
    {"KiB", 1024.0, MetricKind::kBytes},
    {"MiB", 1024.0 * 1024, MetricKind::kBytes},
    {"GiB", 1024.0 * 1024 * 1024, MetricKind::kBytes},
    {"TiB", 1024.0 * 1024 * 1024 * 1024, MetricKind::kBytes},
    {"KB", 1e3, MetricKind::kBytes},
    {"MB", 1e6, MetricKind::kBytes},
    {"GB", 1e9, MetricKind::kBytes},
    {"TB", 1e12, MetricKind::kBytes},
    {"k", 1e3, MetricKind::kCount},
    {"M", 1e6, MetricKind::kCount},
    {"G", 1e9, MetricKind::kCount},
};

struct OpSpec {
  const char* text;
  Expectation::Op op;
};
// Two-character operators first, so "<=" is not read as "<".
constexpr OpSpec kOps[] = {
    {"<=", Expectation::Op::kLessEqual}, {">=", Expectation::Op::kGreaterEqual},
    {"==", Expectation::Op::kEqual},     {"!=", Expectation::Op::kNotEqual},
    {"<", Expectation::Op::kLess},       {">", Expectation::Op::kGreater},
};

const char* OpText(Expectation::Op op) {
  for (const OpSpec& spec : kOps) {
    if (spec.op == op) return spec.text;
  }
  return "?";
}

absl::Status SyntaxError(absl::string_view text, absl::string_view reason) {
  return absl::InvalidArgumentError(
      absl::StrCat("expectation '", text, "': ", reason));
}

absl::StatusOr<double> ParseValue(absl::string_view text,
                                  absl::string_view value,
                                  const MetricSpec& metric) {
  size_t unit_start = value.size();
  while (unit_start > 0 &&
         (std::isalpha(static_cast<unsigned char>(value[unit_start - 1])) ||
          value[unit_start - 1] == '%')) {
    --unit_start;
  }
  const absl::string_view number = value.substr(0, unit_start);
  const absl::string_view suffix = value.substr(unit_start);
  double parsed = 0;
  if (number.empty() || !absl::SimpleAtod(number, &parsed) ||
      !std::isfinite(parsed)) {
    return SyntaxError(text, absl::StrCat("'", value, "' is not a number"));
  }
  if (suffix.empty()) return parsed;
  for (const Unit& unit : kUnits) {
    if (suffix != unit.suffix) continue;
    if (unit.applies_to != metric.kind) {
      return SyntaxError(
          text, absl::StrCat("unit '", suffix, "' does not apply to metric '",
                             metric.name, "'"));
    }
    return parsed * unit.scale;
  }
  return SyntaxError(
      text,
      absl::StrCat("unknown unit '", suffix,
                   "' (%, B, KiB, MiB, GiB, TiB, KB, MB, GB, TB, k, M, G)"));
}

// Splits "METRIC[CLASS]@SWEEP:POLICY" into *e.
absl::Status ParseSubject(absl::string_view text, absl::string_view subject,
                          Expectation* e) {
  const size_t colon = subject.find(':');
  if (colon != absl::string_view::npos) {
    e->policy = std::string(subject.substr(colon + 1));
    subject = subject.substr(0, colon);
    if (e->policy.empty()) return SyntaxError(text, "empty policy after ':'");
  }
  const size_t at = subject.find('@');
  if (at != absl::string_view::npos) {
    e->sweep = std::string(subject.substr(at + 1));
    subject = subject.substr(0, at);
    if (e->sweep.empty()) return SyntaxError(text, "empty marker after '@'");
  }
  const size_t bracket = subject.find('[');
  if (bracket != absl::string_view::npos) {
    if (subject.back() != ']') {
      return SyntaxError(text, "'[' without a closing ']'");
    }
    const absl::string_view size =
        subject.substr(bracket + 1, subject.size() - bracket - 2);
    if (!absl::SimpleAtoi(size, &e->class_size) || e->class_size <= 0) {
      return SyntaxError(
          text, absl::StrCat("size class '", size, "' is not a size in bytes"));
    }
    subject = subject.substr(0, bracket);
  }
  e->metric = std::string(subject);
  return absl::OkStatus();
}

std::string Humanize(double value, MetricKind kind) {
  if (std::isnan(value)) return "n/a";
  switch (kind) {
    case MetricKind::kRatio:
      return absl::StrFormat("%.2f", value);
    case MetricKind::kCount:
      return absl::StrFormat("%.0f", value);
    case MetricKind::kBytes:
      break;
  }
  constexpr const char* kSuffixes[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int i = 0;
  double scaled = value;
  while (std::fabs(scaled) >= 1024 && i < 4) {
    scaled /= 1024;
    ++i;
  }
  return i == 0 ? absl::StrFormat("%.0f B", value)
                : absl::StrFormat("%.1f %s", scaled, kSuffixes[i]);
}

// The value and threshold as text, precise enough to tell them apart.
std::pair<std::string, std::string> Describe(double value, double threshold,
                                             MetricKind kind) {
  std::string v = Humanize(value, kind);
  std::string t = Humanize(threshold, kind);
  if (v == t && value != threshold) {
    v = absl::StrFormat("%.9g", value);
    t = absl::StrFormat("%.9g", threshold);
  }
  return {v, t};
}

bool Holds(double value, Expectation::Op op, double threshold) {
  if (std::isnan(value)) return false;
  switch (op) {
    case Expectation::Op::kLess:
      return value < threshold;
    case Expectation::Op::kLessEqual:
      return value <= threshold;
    case Expectation::Op::kGreater:
      return value > threshold;
    case Expectation::Op::kGreaterEqual:
      return value >= threshold;
    case Expectation::Op::kEqual:
      return value == threshold;
    case Expectation::Op::kNotEqual:
      return value != threshold;
  }
  return false;
}

double DsrValue(const DsrWindow& window) {
  return window.defined() ? window.dsr()
                          : std::numeric_limits<double>::quiet_NaN();
}

void AddOccupancy(MetricTable& table, const std::string& sweep,
                  int64_t class_size, const Occupancy& o) {
  auto set = [&](const char* metric, double value) {
    table.Set({metric, sweep, "", class_size}, value);
  };
  set("dsr", DsrValue(o.dsr_since_marker()));
  set("live_objects", o.live_objects());
  set("live_bytes", o.live_bytes());
  set("requested_bytes", o.requested_bytes());
  set("pinned_slabs", o.pinned_slabs());
  set("pinned_extents", o.pinned_extents());
  set("footprint", o.footprint_bytes());
  set("stranded_bytes", o.stranded_bytes());
  set("packing_bound", o.packing_bound_bytes());
}

// The metrics AddPolicyRow sets per size class.
constexpr const char* kPolicyClassMetrics[] = {
    "dsr", "live_objects", "pinned_slabs", "pinned_granules", "footprint"};

bool HasPolicyClassValue(absl::string_view metric) {
  for (const char* name : kPolicyClassMetrics) {
    if (metric == name) return true;
  }
  return false;
}

void AddPolicyRow(MetricTable& table, const std::string& sweep,
                  const PolicyRow& row) {
  auto set = [&](const char* metric, double value) {
    table.Set({metric, sweep, row.policy(), -1}, value);
  };
  set("dsr", row.held_granules() == 0 ? std::numeric_limits<double>::quiet_NaN()
                                      : row.dsr());
  set("pinned_slabs", row.pinned_slabs());
  set("pinned_granules", row.pinned_granules());
  set("footprint", row.footprint_bytes());
  set("peak_footprint", row.peak_footprint_bytes());
  set("stranded_bytes", row.stranded_bytes());
  set("live_objects", row.live_objects());
  set("live_bytes", row.live_bytes());
  set("footprint_ratio", row.footprint_ratio());
  set("meshed_slabs", row.meshed_slabs());
  set("meshed_footprint", row.meshed_footprint_bytes());
  for (const ClassRow& c : row.classes()) {
    auto set_class = [&](const char* metric, double value) {
      table.Set(
          {metric, sweep, row.policy(), static_cast<int64_t>(c.region_size())},
          value);
    };
    set_class("dsr", c.held_granules() == 0
                         ? std::numeric_limits<double>::quiet_NaN()
                         : c.dsr());
    set_class("live_objects", c.live_objects());
    set_class("pinned_granules", c.pinned_granules());
    if (c.nregs() > 0) set_class("pinned_slabs", c.pinned_granules());
    set_class("footprint", c.footprint_bytes());
  }
}

constexpr char kSummary[] =
    "Replays TRACE (and compares placement policies when an expectation\n"
    "names one) and tests each --expect against the result. Exit 0 when all\n"
    "hold, 1 with one line per violated expectation, 2 on bad input.\n"
    "\n"
    "  EXPR   := METRIC [ [CLASS] ] [ @MARKER | @end ] [ :POLICY ] OP VALUE\n"
    "  OP     := <= >= < > == !=\n"
    "  VALUE  := NUMBER [ % | B KiB MiB GiB TiB | KB MB GB TB | k M G ]\n"
    "  CLASS  := a size class's region size in bytes, e.g. [1280]\n"
    "  METRIC := dsr live_objects live_bytes requested_bytes pinned_slabs\n"
    "            pinned_extents footprint stranded_bytes packing_bound\n"
    "            classes_outside_bound unknown_frees inconsistencies\n"
    "            dropped_events; with :POLICY also pinned_granules\n"
    "            peak_footprint footprint_ratio meshed_slabs meshed_footprint\n"
    "\n"
    "examples: 'dsr@deleted>=0.4' 'footprint_ratio@end:oracle<=1.2'\n"
    "          'peak_footprint<=64MiB' 'pinned_slabs[1280]@deleted<=7000'";

int BadInput(const std::string& message) {
  std::fprintf(stderr, "slabtrace check: %s\n", message.c_str());
  return kExitBadInput;
}

}  // namespace

int RunCheck(const std::vector<std::string>& args) {
  CommandLine command_line(
      "slabtrace check TRACE --expect EXPR [--expect EXPR ...]", kSummary);
  command_line.AddRepeatedOption("expect", "an expectation");
  command_line.AddOption(
      "policies", "",
      "policies to compare besides those the expectations name");
  if (std::optional<int> exit_code = command_line.ParseOrExit(args)) {
    return *exit_code;
  }
  if (command_line.positional().size() != 1) {
    return BadInput("wants exactly one TRACE (see --help)");
  }
  const std::vector<std::string> texts = command_line.GetAll("expect");
  if (texts.empty()) return BadInput("wants at least one --expect");
  std::vector<Expectation> expectations;
  bool by_class = false;
  for (const std::string& text : texts) {
    absl::StatusOr<Expectation> e = ParseExpectation(text);
    if (!e.ok()) return BadInput(std::string(e.status().message()));
    by_class |= e->class_size >= 0;
    expectations.push_back(*std::move(e));
  }
  std::vector<std::string> listed;
  if (command_line.Has("policies")) {
    absl::StatusOr<std::vector<std::string>> list =
        command_line.GetList("policies");
    if (!list.ok()) return BadInput(std::string(list.status().message()));
    listed = *std::move(list);
  }
  absl::StatusOr<std::vector<std::string>> policies_or =
      PoliciesToCompare(expectations, listed);
  if (!policies_or.ok()) {
    return BadInput(std::string(policies_or.status().message()));
  }
  std::vector<std::string> policies = *std::move(policies_or);

  const std::string& path = command_line.positional()[0];
  absl::StatusOr<std::unique_ptr<TraceReader>> reader = TraceReader::Open(path);
  if (!reader.ok()) return BadInput(std::string(reader.status().message()));
  ReplayOptions options;
  options.set_by_class(by_class);
  Replayer replayer(**reader, options);
  absl::StatusOr<Report> report = replayer.Run();
  if (!report.ok()) return BadInput(std::string(report.status().message()));
  for (const std::string& warning : (*reader)->warnings()) {
    std::fprintf(stderr, "slabtrace check: warning: %s\n", warning.c_str());
  }
  MetricTable table;
  table.AddReplay(*report);
  if (!policies.empty()) {
    CompareOptions compare;
    compare.policies = std::move(policies);
    compare.sim.by_class = by_class;
    compare.trace_name = path;
    absl::StatusOr<Comparison> comparison =
        Compare([&path] { return OpenObjectStream(path); }, compare);
    if (!comparison.ok()) {
      const std::string message = absl::StrCat(
          path, ": comparing policies: ", comparison.status().message());
      // Internal: a simulator invariant (e.g. conservation) broke, which
      // is a failed check of the trace, not bad input.
      if (comparison.status().code() == absl::StatusCode::kInternal) {
        std::fprintf(stderr, "slabtrace check: %s\n", message.c_str());
        return kExitCheckFailed;
      }
      return BadInput(message);
    }
    table.AddComparison(*comparison);
  }

  int violated = 0;
  for (const Expectation& e : expectations) {
    absl::StatusOr<CheckResult> result = Evaluate(e, table);
    if (!result.ok()) {
      return BadInput(absl::StrCat(path, ": ", result.status().message()));
    }
    if (!result->holds) ++violated;
    std::printf("%s %s\n", result->holds ? "ok  " : "FAIL",
                result->message.c_str());
  }
  std::printf("%zu of %zu expectations hold\n", expectations.size() - violated,
              expectations.size());
  return violated == 0 ? kExitOk : kExitCheckFailed;
}

absl::StatusOr<Expectation> ParseExpectation(absl::string_view text) {
  Expectation e;
  e.text = std::string(text);
  size_t op_at = absl::string_view::npos;
  const OpSpec* op = nullptr;
  for (size_t i = 0; i < text.size() && op == nullptr; ++i) {
    for (const OpSpec& spec : kOps) {
      if (text.substr(i, strlen(spec.text)) == spec.text) {
        op = &spec;
        op_at = i;
        break;
      }
    }
  }
  if (op == nullptr) {
    return SyntaxError(text, "no comparison (one of <= >= < > == !=)");
  }
  e.op = op->op;
  if (absl::Status s = ParseSubject(text, text.substr(0, op_at), &e); !s.ok()) {
    return s;
  }
  const MetricSpec* metric = FindMetric(e.metric);
  if (metric == nullptr) {
    return SyntaxError(text, absl::StrCat("unknown metric '", e.metric,
                                          "' (one of: ", MetricNames(), ")"));
  }
  if (e.metric == "footprint_ratio" && e.policy.empty()) {
    return SyntaxError(text, "footprint_ratio needs a policy, e.g. ':oracle'");
  }
  if (e.metric == "peak_footprint" && e.policy.empty()) e.policy = "recorded";
  if (!e.policy.empty() && !metric->from_comparison) {
    return SyntaxError(text, absl::StrCat("metric '", e.metric,
                                          "' is not reported per policy"));
  }
  if (metric->whole_trace && e.sweep != "end") {
    return SyntaxError(text,
                       absl::StrCat("metric '", e.metric,
                                    "' covers the whole trace; use @end"));
  }
  if (e.class_size >= 0 &&
      (metric->whole_trace || e.metric == "classes_outside_bound")) {
    return SyntaxError(
        text, absl::StrCat("metric '", e.metric, "' has no per-class value"));
  }
  if (e.class_size >= 0 && !e.policy.empty() &&
      !HasPolicyClassValue(e.metric)) {
    return SyntaxError(
        text, absl::StrCat("metric '", e.metric,
                           "' has no per-class value per policy (dsr, "
                           "live_objects, pinned_slabs, pinned_granules, "
                           "footprint have)"));
  }
  absl::StatusOr<double> threshold =
      ParseValue(text, text.substr(op_at + strlen(op->text)), *metric);
  if (!threshold.ok()) return threshold.status();
  e.threshold = *threshold;
  return e;
}

void MetricTable::Set(const Key& key, double value) {
  if (std::find(sweeps_.begin(), sweeps_.end(), key.sweep) == sweeps_.end()) {
    sweeps_.push_back(key.sweep);
  }
  if (!key.policy.empty() && std::find(policies_.begin(), policies_.end(),
                                       key.policy) == policies_.end()) {
    policies_.push_back(key.policy);
  }
  if (key.sweep == "end") {
    values_[key] = value;
  } else {
    values_.emplace(key, value);
  }
}

void MetricTable::AddReplay(const Report& report) {
  for (const Sweep& sweep : report.sweeps()) {
    if (sweep.kind() == Sweep::INTERVAL) continue;
    const std::string label =
        sweep.kind() == Sweep::END ? std::string("end") : sweep.label();
    AddOccupancy(*this, label, -1, sweep.total());
    for (const ClassOccupancy& c : sweep.classes()) {
      AddOccupancy(*this, label, static_cast<int64_t>(c.class_size()),
                   c.occupancy());
    }
    if (sweep.ground_truth().available()) {
      Set({"classes_outside_bound", label, "", -1},
          sweep.ground_truth().classes_outside_bound());
    }
  }
  const Validation& v = report.validation();
  Set({"unknown_frees", "end", "", -1},
      static_cast<double>(v.unknown_frees() + v.unknown_resizes()));
  Set({"inconsistencies", "end", "", -1}, v.inconsistencies());
  Set({"dropped_events", "end", "", -1}, report.trailer().dropped_events());
}

void MetricTable::AddComparison(const Comparison& comparison) {
  for (const ComparisonSweep& sweep : comparison.sweeps()) {
    if (sweep.kind() == ComparisonSweep::INTERVAL) continue;
    const std::string label = sweep.kind() == ComparisonSweep::END
                                  ? std::string("end")
                                  : sweep.label();
    for (const PolicyRow& row : sweep.rows()) AddPolicyRow(*this, label, row);
  }
}

absl::StatusOr<std::vector<std::string>> PoliciesToCompare(
    const std::vector<Expectation>& expectations,
    const std::vector<std::string>& extra) {
  std::vector<std::string> named;
  for (const Expectation& e : expectations) {
    if (!e.policy.empty()) named.push_back(e.policy);
  }
  named.insert(named.end(), extra.begin(), extra.end());
  if (named.empty()) return named;
  std::vector<std::string> policies = {"recorded"};
  for (const std::string& name : named) {
    if (std::find(policies.begin(), policies.end(), name) == policies.end()) {
      policies.push_back(name);
    }
  }
  if (absl::Status s = ValidatePolicies(policies); !s.ok()) return s;
  return policies;
}

absl::StatusOr<double> MetricTable::Lookup(const Expectation& e) const {
  auto it = values_.find(Key{e.metric, e.sweep, e.policy, e.class_size});
  if (it != values_.end()) return it->second;
  if (std::find(sweeps_.begin(), sweeps_.end(), e.sweep) == sweeps_.end()) {
    std::vector<std::string> markers;
    for (const std::string& s : sweeps_) {
      if (s != "end") markers.push_back(absl::StrCat("'", s, "'"));
    }
    return absl::NotFoundError(absl::StrCat(
        "expectation '", e.text, "': the trace has no marker '", e.sweep,
        "' (markers: ", markers.empty() ? "none" : absl::StrJoin(markers, ", "),
        ")"));
  }
  if (!e.policy.empty() && std::find(policies_.begin(), policies_.end(),
                                     e.policy) == policies_.end()) {
    return absl::NotFoundError(absl::StrCat("expectation '", e.text,
                                            "': policy '", e.policy,
                                            "' was not compared"));
  }
  if (e.class_size >= 0) {
    return absl::NotFoundError(
        absl::StrCat("expectation '", e.text, "': no size class of ",
                     e.class_size, " bytes was used at ", e.sweep));
  }
  return absl::NotFoundError(absl::StrCat("expectation '", e.text, "': no '",
                                          e.metric, "' at ", e.sweep));
}

absl::StatusOr<CheckResult> Evaluate(const Expectation& e,
                                     const MetricTable& table) {
  absl::StatusOr<double> value = table.Lookup(e);
  if (!value.ok()) return value.status();
  const MetricSpec& metric = *FindMetric(e.metric);
  CheckResult result;
  result.holds = Holds(*value, e.op, e.threshold);
  std::string subject = e.metric;
  if (e.class_size >= 0) absl::StrAppend(&subject, " of class ", e.class_size);
  if (!e.policy.empty())
    absl::StrAppend(&subject, " of policy '", e.policy, "'");
  absl::StrAppend(&subject, e.sweep == "end"
                                ? std::string(" at end")
                                : absl::StrCat(" at marker '", e.sweep, "'"));
  const auto [v, t] = Describe(*value, e.threshold, metric.kind);
  result.message =
      absl::StrCat(subject, " is ", v, ", expected ", OpText(e.op), " ", t);
  return result;
}

}  // namespace slabtrace
