#ifndef SLABTRACE_TOOLS_INSPECT_COMMAND_H_
#define SLABTRACE_TOOLS_INSPECT_COMMAND_H_

#include <string>
#include <vector>

namespace slabtrace {

// `slabtrace inspect FILE`: header, size-class table, markers, event counts
// by kind and by API, chunk count, bytes/event and integrity status.
int RunInspect(const std::vector<std::string>& args);

}  // namespace slabtrace

#endif  // SLABTRACE_TOOLS_INSPECT_COMMAND_H_
