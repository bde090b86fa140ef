#ifndef SLABTRACE_TOOLS_MARK_COMMAND_H_
#define SLABTRACE_TOOLS_MARK_COMMAND_H_

#include <string>
#include <vector>

namespace slabtrace {

// `slabtrace mark (--pid PID | --trace FILE) LABEL`: puts a labelled marker
// with a jemalloc statistics snapshot into a running recording and waits
// until it is written.
int RunMark(const std::vector<std::string>& args);

}  // namespace slabtrace

#endif  // SLABTRACE_TOOLS_MARK_COMMAND_H_
