// Report inputs built by hand for tests, the browser test and the render
// benchmark: the "scattered delete" story (fill slabs of the 1280-byte class,
// then free every other object) with the numbers the real Redis run shows
// at a configurable scale. Deterministic: the same shape gives the same
// input.

#ifndef SLABTRACE_TOOLS_REPORT_TESTING_SYNTHETIC_REPORT_H_
#define SLABTRACE_TOOLS_REPORT_TESTING_SYNTHETIC_REPORT_H_

#include <cstddef>
#include <string>
#include <vector>

#include "tools/report/html_report.h"

namespace slabtrace {

struct SyntheticReportShape {
  size_t sweeps = 400;             // timeline points
  size_t slabs = 6250;             // slabs of the 1280-byte class
  size_t small_class_slabs = 900;  // slabs of a 64-byte class, mixed fill
  std::vector<std::string> policies = {"recorded", "jemalloc",  "first-fit",
                                       "best-fit", "worst-fit", "temporal",
                                       "oracle",   "compact"};
  std::string label_suffix;  // appended to marker labels (escaping tests)
};

// Markers "after-fill" and "after-delete". After the delete every
// 1280-byte slab holds 8 of 16 regions; the oracle and compact policies
// drain half the slabs (DSR 0.5), every other policy none (DSR 0).
ReportInput ScatterDeleteReport(const SyntheticReportShape& shape = {});

}  // namespace slabtrace

#endif  // SLABTRACE_TOOLS_REPORT_TESTING_SYNTHETIC_REPORT_H_
