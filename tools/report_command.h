#ifndef SLABTRACE_TOOLS_REPORT_COMMAND_H_
#define SLABTRACE_TOOLS_REPORT_COMMAND_H_

#include <string>
#include <vector>

namespace slabtrace {

// `slabtrace report FILE [--policies LIST|none] [--class SIZE] [--points N]
// [-o OUT]`: one self-contained HTML page (tools/report/README.md) with the
// trace's memory and DSR timelines, a table per marker with one row per
// placement policy, occupancy histograms, slab maps and size-class tables.
int RunReport(const std::vector<std::string>& args);

}  // namespace slabtrace

#endif  // SLABTRACE_TOOLS_REPORT_COMMAND_H_
