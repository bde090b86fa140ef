#ifndef SLABTRACE_TOOLS_REPLAY_COMMAND_H_
#define SLABTRACE_TOOLS_REPLAY_COMMAND_H_

#include <string>
#include <vector>

namespace slabtrace {

// `slabtrace replay FILE [--every N] [--interval MS] [--by-class]
// [--histogram] [--format table|csv|json] [-o OUT]`: rebuilds the slab
// occupancy of a trace and reports it at every marker, every N events or MS
// of trace time, and at the end (replay/replayer.h, replay/README.md).
int RunReplay(const std::vector<std::string>& args);

}  // namespace slabtrace

#endif  // SLABTRACE_TOOLS_REPLAY_COMMAND_H_
