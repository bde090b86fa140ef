// Writes a small trace file of the "scattered delete" experiment for the
// report's tests (the real recording is testdata/redis/): `slabs` slabs of the
// 1280-byte class filled in address order (16 regions each), a marker
// "after-fill", every other object freed, a marker "after-delete". A 64-byte
// class gets uneven traffic so that the report has more than one class. Two
// threads, 1 us between events. Deterministic.

#ifndef SLABTRACE_TOOLS_REPORT_TESTING_SCATTER_DELETE_TRACE_H_
#define SLABTRACE_TOOLS_REPORT_TESTING_SCATTER_DELETE_TRACE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace slabtrace {

absl::Status WriteScatterDeleteTrace(const std::string& path, uint32_t slabs);

}  // namespace slabtrace

#endif  // SLABTRACE_TOOLS_REPORT_TESTING_SCATTER_DELETE_TRACE_H_
