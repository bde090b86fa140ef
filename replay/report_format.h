// Renders a replay Report as text for people (table), for spreadsheets (CSV)
// or for programs (JSON). Every renderer is a pure function of the Report,
// so the same report always gives the same bytes.
//
// CSV columns are stable and documented in replay/README.md: one row per
// sweep (size_class "all"), plus, with --by-class, one row per sweep and
// size class right after it; histogram columns only with --histogram.
// An undefined DSR (no granule held anything) prints as "n/a".
//
// JSON is the Report message through protobuf's JSON printer with every
// field printed (zeros included) and proto field names.

#ifndef SLABTRACE_REPLAY_REPORT_FORMAT_H_
#define SLABTRACE_REPLAY_REPORT_FORMAT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/report.pb.h"

namespace slabtrace {

enum class ReportFormat { kTable, kCsv, kJson };

// "table", "csv" or "json".
absl::StatusOr<ReportFormat> ParseReportFormat(absl::string_view name);

std::string FormatTable(const Report& report);
std::string FormatCsv(const Report& report);
absl::StatusOr<std::string> FormatJson(const Report& report);
absl::StatusOr<std::string> FormatReport(const Report& report,
                                         ReportFormat format);

// Humanised units for the table: "512 B", "1.5 KiB", "3.0 MiB", "1.2 GiB";
// counts with thousands separators; a DSR as "12.5% (1/8)" or "n/a (0/0)".
std::string HumanBytes(int64_t bytes);
std::string WithCommas(uint64_t n);
std::string HumanDsr(const DsrWindow& window);

}  // namespace slabtrace

#endif  // SLABTRACE_REPLAY_REPORT_FORMAT_H_
