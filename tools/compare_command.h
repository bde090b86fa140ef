#ifndef SLABTRACE_TOOLS_COMPARE_COMMAND_H_
#define SLABTRACE_TOOLS_COMPARE_COMMAND_H_

#include <string>
#include <vector>

namespace slabtrace {

// `slabtrace compare FILE [--policies ...]`: runs the trace's alloc/free
// stream through each placement policy (one thread per policy) and prints,
// per sweep, one row per policy: DSR, pinned slabs, footprint, peak,
// stranded bytes, ratio to `recorded`, plus the packing bound; optionally
// the jemalloc model's fidelity against the recorded placement.
int RunCompare(const std::vector<std::string>& args);

}  // namespace slabtrace

#endif  // SLABTRACE_TOOLS_COMPARE_COMMAND_H_
